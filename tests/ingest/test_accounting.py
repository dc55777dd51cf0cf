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


class StoredDict:
    """The `Stored` port over plain dicts: what InfluxDB held when this process started."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str, int], set[int]] = {}
        self.points: dict[tuple[str, str, int], dict[str, tuple[float, float, float]]] = {}
        self.dead: dict[tuple[str, int, str], float] = {}
        self.queries = 0

    def sample_times(self, site: str, device: str, start_ms: int, end_ms: int) -> set[int]:
        self.queries += 1
        return set(self.times.get((site, device, start_ms), set()))

    def quality(self, site: str, device: str, start_ms: int) -> dict[str, tuple[float, float, float]]:
        return dict(self.points.get((site, device, start_ms), {}))

    def dead_letters(self, instance: str, start_ms: int, reason: str) -> float:
        return self.dead.get((instance, start_ms, reason), 0.0)


def test_a_restarted_instance_merges_with_what_it_stored_before() -> None:
    # Issue 16 finding 8: after a restart the smaller in-memory count overwrote the stored point
    # (163 samples said for 283 stored). Before the crash this instance stored 40 samples
    # (its point said 30: the last 10 s of counting never reached InfluxDB), another
    # instance stored 20 and counted them; 1 gap and 2 duplicates were stored.
    stored = StoredDict()
    mine = {TS0 + i * 1000 for i in range(40)}
    theirs = {TS0 + 100_000 + i * 1000 for i in range(20)}
    stored.times[("s", "d", TS0)] = mine | theirs
    stored.points[("s", "d", TS0)] = {"ingest-1": (30.0, 1.0, 2.0), "ingest-2": (20.0, 0.0, 0.0)}
    stored.dead[("ingest-1", TS0, "not_json")] = 7.0
    a = Accounting("ingest-1", stored=stored, started_ms=TS0 + 300_000)
    # Redelivered: the last 5 written before the kill (not acked), then 10 new samples.
    batch = sorted(mine)[-5:] + [TS0 + 200_000 + i * 1000 for i in range(10)]
    a.prepare("s", "d", batch)
    a.observe("s", "d", 7, batch, 1)
    a.dead_letter("not_json", TS0 + 310_000)
    lines = sorted(a.quality_lines())
    assert lines == [
        "dead_letters,component=ingest,ingest=ingest-1,reason=not_json count=8 1763712000000",
        # 40 + 10 of ours (not 15: the 5 redelivered were stored already); 900 expected at 1 s.
        "ingest_quality,device=d,ingest=ingest-1,site=s "
        "completeness_pct=5.556,duplicates=2,expected=900,samples=50,seq_gaps=1 1763712000000",
    ]
    # Merged once: later batches of the interval add to memory only.
    a.prepare("s", "d", [TS0 + 250_000])
    a.observe("s", "d", 8, [TS0 + 250_000], 1)
    assert stored.queries == 1
    assert "samples=51" in a.quality_lines()[0]


def test_intervals_begun_after_the_start_are_not_looked_up() -> None:
    stored = StoredDict()
    a = Accounting("i", stored=stored, started_ms=TS0 - 1)
    a.prepare("s", "d", [TS0 + 1000])  # the interval begins after the start: nothing stored
    a.observe("s", "d", 1, [TS0 + 1000], 1)
    assert stored.queries == 0 and "samples=1" in a.quality_lines()[0]


def test_sample_lines_name_only_the_intervals_changed_since_the_last_call() -> None:
    # The service writes these with every batch, so a batch of one device must not rewrite all.
    a = Accounting("i")
    a.observe("s", "d1", 1, [TS0], 1)
    a.observe("s", "d2", 1, [TS0], 1)
    assert len(a.sample_lines()) == 2
    a.observe("s", "d2", 2, [TS0 + 1000, TS0 + 900_000], 1)
    assert a.sample_lines() == [
        "ingest_quality,device=d2,ingest=i,site=s completeness_pct=0.222,duplicates=0,expected=900,samples=2,seq_gaps=0 "
        "1763712000000",
        "ingest_quality,device=d2,ingest=i,site=s completeness_pct=0.111,duplicates=0,expected=900,samples=1,seq_gaps=0 "
        "1763712900000",
    ]
    assert a.sample_lines() == [] and a.dead_letter_lines() == []


def test_restored_dead_letter_counts_are_written_once_and_merged_once() -> None:
    # A run killed before its 10-s round filed 4 dead letters of an interval that ended while
    # ingest was down: no new dead letter of that interval would ever trigger the merge.
    stored = StoredDict()
    stored.dead[("ingest-1", TS0, "not_json")] = 99.0  # must not be added on top of the file's count
    a = Accounting("ingest-1", stored=stored, started_ms=TS0 + 900_500)
    a.restore_dead({(TS0, "not_json"): 4, (TS0 + 900_000, "bad_ts"): 1, (TS0 + 1_800_000, "bad_ts"): 5})
    a.dead_letter("bad_ts", TS0 + 900_600)  # this run's own, in the interval it started in
    assert a.dead_letter_lines() == [
        "dead_letters,component=ingest,ingest=ingest-1,reason=not_json count=4 1763712000000",
        "dead_letters,component=ingest,ingest=ingest-1,reason=bad_ts count=2 1763712900000",
    ]  # the interval from after the start is this run's alone: not restored
    a.restore_dead({(TS0, "not_json"): 4})
    assert a.dead_letter_lines() == []
