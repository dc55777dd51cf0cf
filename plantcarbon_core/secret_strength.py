"""Whether a configured secret is fit for production: not a placeholder, not trivial, long enough.

Why: `.env.example` ships `CHANGE-ME-…` values and people start with them or with a word they
remember; such a secret guards the API, the database and the broker as well as none at all.
The check is deliberately simple (no entropy estimate): a random token passes every rule.
"""

from __future__ import annotations

# Substrings that no randomly generated secret of this length contains by chance (a 32-char
# base64 token holds a given 5-letter word with odds of about 1 in 40 million).
PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "your-", "example", "placeholder")
WORDS = ("password", "passwort", "secret", "admin", "plantcarbon", "dev-token", "qwerty", "123456", "letmein")
MIN_DISTINCT = 10  # `aaaa…`, `abab…`, `1234…` have fewer distinct characters


def weakness(value: str, min_length: int = 16) -> str | None:
    """Why `value` is not a production secret, or None when it passes. Never repeats the value."""
    low = value.lower()
    if any(p in low for p in PLACEHOLDERS):
        return "still holds the .env.example placeholder"
    if len(value) < min_length:
        return f"is shorter than {min_length} characters"
    if len(set(value)) < MIN_DISTINCT:
        return f"uses fewer than {MIN_DISTINCT} distinct characters"
    if any(w in low for w in WORDS):
        return "contains a common word (password, secret, admin, …)"
    return None
