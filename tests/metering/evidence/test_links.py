"""The link grammar and which links concern one unit's month."""

from __future__ import annotations

import pytest

from metering.evidence.links import MonthScope, parse, parse_all

SCOPE = MonthScope("kiln-1", "2026-01", frozenset({"coal"}), frozenset({"cl-weigher"}), frozenset({"CL-20260110"}))


@pytest.mark.parametrize(
    ("text", "concerns"),
    [
        ("lab_sample:CL-20260110", True),
        ("lab_sample:CL-20260111", False),
        ("stock:coal:2026-01", True),
        ("stock:coal:2026-02", False),
        ("instrument:cl-weigher", True),
        ("unit_month:kiln-1:2026-01", True),
        ("unit_month:kiln-2:2026-01", False),
    ],
)
def test_which_links_concern_the_month(text: str, concerns: bool) -> None:
    link = parse(text)
    assert SCOPE.concerns(link) is concerns
    assert (text in SCOPE.candidates()) is concerns


def test_bad_links_are_named_by_position() -> None:
    with pytest.raises(ValueError) as err:
        parse_all(["lab_sample:CL-1", "stock:coal:2026-13", "sample:x", "lab_sample:../etc"])
    msg = str(err.value)
    assert "links[1]: link 'stock:coal:2026-13'" in msg and "links[2]" in msg and "links[3]" in msg
    assert "links[0]" not in msg
    assert [x.text for x in parse_all(["instrument:a", "instrument:a"])] == ["instrument:a"]
