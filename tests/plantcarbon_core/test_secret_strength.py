"""Which secrets production refuses (issue 16, finding 13): placeholders, short or trivial values."""

from __future__ import annotations

import secrets

import pytest

from plantcarbon_core.secret_strength import weakness


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("CHANGE-ME-long-random-token", "placeholder"),
        ("change_me_please_0123456789", "placeholder"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "distinct"),
        ("abababababababababababab", "distinct"),
        ("1234567812345678", "distinct"),
        ("Xy7", "shorter than 16"),
        ("MyPassword-2026-plant!", "common word"),
        ("superSecretToken987654", "common word"),
        ("plantcarbon-dev-token", "common word"),
    ],
)
def test_weak_secrets_are_named_without_echoing(value: str, reason: str) -> None:
    why = weakness(value)
    assert why is not None and reason in why and value not in why


def test_random_tokens_pass() -> None:
    # secrets.token_urlsafe is what docs/metering-api.md and .env.example tell people to use;
    # 200 draws make a chance hit of a listed word (≈ 1e-7 each) practically impossible.
    for _ in range(200):
        assert weakness(secrets.token_urlsafe(32), 24) is None
    assert weakness("Zq8x1Lr0Vw9Kp2Nn5Tt7Yy3Hh6Jj4Ff", 24) is None
    assert weakness("Zq8x1Lr0Vw9Kp2Nn", 24) == "is shorter than 24 characters"
