"""The generated dashboards are byte-for-byte what the golden hashes say (tests/dashboards/golden.py)."""

from __future__ import annotations

import json

from tests.dashboards.golden import GOLDEN, hashes


def test_generated_dashboards_match_the_golden_hashes() -> None:
    want = json.loads(GOLDEN.read_text("utf-8"))
    got = hashes()
    assert sorted(got) == sorted(want)
    changed = {
        plant: sorted(uid for uid in set(got[plant]) | set(want[plant]) if got[plant].get(uid) != want[plant].get(uid))
        for plant in got
    }
    # An intended change rewrites the file (python -m tests.dashboards.golden) in the same commit.
    assert changed == {plant: [] for plant in got}
