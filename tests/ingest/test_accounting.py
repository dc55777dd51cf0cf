"""Seq gaps, duplicates and completeness per 15-minute interval (pure)."""

from __future__ import annotations

from ingest.accounting import Accounting

TS0 = 1_763_712_000_000  # a 15-minute boundary


def test_gaps_duplicates_and_completeness() -> None:
    a = Accounting("ingest-1")
    assert a.observe("s", "d", 10, [TS0], 60).gaps == 0  # the first seq seen is no gap
    assert a.observe("s", "d", 11, [TS0 + 60_000], 60).gaps == 0
    assert a.observe("s", "d", 14, [TS0 + 120_000], 60).gaps == 2
    assert a.observe("s", "d", 14, [TS0 + 120_000], 60).duplicate
    late = a.observe("s", "d", 12, [TS0 + 180_000], 60)  # a late batch fills one of the gaps
    assert late.gaps == -1 and not late.duplicate
    assert a.observe("s", "d", 11, [TS0 + 60_000], 60).duplicate
    (line,) = a.quality_lines()
    # 15 min / 60 s = 15 samples expected; 4 distinct timestamps seen.
    assert line == (
        "ingest_quality,device=d,ingest=ingest-1,site=s "
        "completeness_pct=26.667,duplicates=2,expected=15,samples=4,seq_gaps=1 1763712000000"
    )
    assert a.quality_lines() == []  # nothing changed since
    assert (a.total_gaps, a.total_duplicates) == (1, 2)


def test_samples_split_across_intervals_and_unknown_interval() -> None:
    a = Accounting("i")
    a.observe("s", "ghost", 0, [TS0 + 899_000, TS0 + 900_000, TS0 + 901_000], None)
    lines = sorted(a.quality_lines())
    assert lines == [
        "ingest_quality,device=ghost,ingest=i,site=s duplicates=0,samples=1,seq_gaps=0 1763712000000",
        "ingest_quality,device=ghost,ingest=i,site=s duplicates=0,samples=2,seq_gaps=0 1763712900000",
    ]


def test_edge_restarting_its_count_is_not_a_duplicate() -> None:
    a = Accounting("i")
    a.observe("s", "d", 500, [TS0], 1)
    v = a.observe("s", "d", 0, [TS0 + 1000], 1)
    assert v.gaps == 0 and not v.duplicate
    assert a.observe("s", "d", 1, [TS0 + 2000], 1).gaps == 0


def test_dead_letters_counted_per_interval_and_reason() -> None:
    a = Accounting("ingest-1")
    a.dead_letter("not_json", TS0 + 5)
    a.dead_letter("not_json", TS0 + 899_999)
    a.dead_letter("bad_ts", TS0 + 10)
    a.dead_letter("not_json", TS0 + 900_000)  # the next interval
    assert a.quality_lines() == [
        "dead_letters,component=ingest,ingest=ingest-1,reason=bad_ts count=1 1763712000000",
        "dead_letters,component=ingest,ingest=ingest-1,reason=not_json count=2 1763712000000",
        "dead_letters,component=ingest,ingest=ingest-1,reason=not_json count=1 1763712900000",
    ]
    a.dead_letter("not_json", TS0 + 7)
    # Only the changed interval is written again, with its running count (same point: overwritten).
    assert a.quality_lines() == ["dead_letters,component=ingest,ingest=ingest-1,reason=not_json count=3 1763712000000"]
