"""Retry-After parsing and back-off (pure)."""

from __future__ import annotations

from email.utils import formatdate

from ingest.writer import MAX_RETRY_AFTER_S, backoff_s, retry_after_s


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_s({"Retry-After": "7"}) == 7.0
    assert retry_after_s({"Retry-After": "100000"}) == MAX_RETRY_AFTER_S
    now = 1_800_000_000.0
    assert retry_after_s({"Retry-After": formatdate(now + 30, usegmt=True)}, now=now) == 30.0
    assert retry_after_s({"Retry-After": "soon"}) is None
    assert retry_after_s({}) is None and retry_after_s(None) is None


def test_backoff_grows_to_its_cap() -> None:
    delays = [backoff_s(n, base_s=0.2, cap_s=5.0) for n in range(12)]
    assert 0.15 <= delays[0] <= 0.2
    assert all(d <= 5.0 for d in delays) and delays[-1] >= 3.75
