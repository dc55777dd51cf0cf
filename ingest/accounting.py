"""Data-quality accounting: seq gaps, duplicates and completeness per device, dead letters by reason, per 15 min.

Pure bookkeeping (no I/O of its own): the service feeds it each batch before writing it and
writes the batch's `ingest_quality` lines in the same request (`dead_letters` lines now and
then). A batch's gaps and duplicates count in the interval of its first sample. With several
ingest processes on one shared subscription each sees part of every device's seq stream,
which is why every point carries the `ingest` tag (see docs/ingest.md).

Counts survive a restart: an interval that began before this process started may already
hold a point of the same instance (same tags, same time — a new write would overwrite it).
Before the first batch of such an interval is written, `prepare` asks the `Stored` port for
what InfluxDB already holds — the interval's stored sample timestamps, the other instances'
sample counts and this instance's gaps and duplicates — so `samples` = stored timestamps ∪
new ones − the other instances' share: a redelivered sample is not counted twice, a sample
written before a `kill -9` is not lost from the count. Dead-letter counts of such intervals
start from the stored count.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from plantcarbon_core import schema as sc
from plantcarbon_core.influx import line

INTERVAL_MS = 15 * 60 * 1000
COMPONENT = "ingest"
# How many recent seqs per device are remembered to tell a duplicate from a late gap fill.
SEQ_WINDOW = 4096
# Intervals this far behind a device's newest one are final and forgotten.
KEEP_INTERVALS = 8


class Stored(Protocol):
    """What InfluxDB already holds for an interval (the service's adapter; tests use a dict)."""

    def sample_times(self, site: str, device: str, start_ms: int, end_ms: int) -> set[int]:
        """Timestamps of the device's stored readings in [start, end)."""
        ...

    def quality(self, site: str, device: str, start_ms: int) -> dict[str, tuple[float, float, float]]:
        """The interval's `ingest_quality` points by instance: (samples, seq_gaps, duplicates)."""
        ...

    def dead_letters(self, instance: str, start_ms: int, reason: str) -> float:
        """This instance's stored dead-letter count of the interval and reason (0 if none)."""
        ...


@dataclass
class _Interval:
    timestamps: set[int] = field(default_factory=set)
    seq_gaps: int = 0
    duplicates: int = 0
    dirty: bool = True
    others: int = 0  # samples among `timestamps` that other instances count


@dataclass
class _Device:
    last_seq: int | None = None
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=SEQ_WINDOW))
    recent_set: set[int] = field(default_factory=set)
    missing: set[int] = field(default_factory=set)
    intervals: dict[int, _Interval] = field(default_factory=dict)

    def remember(self, seq: int) -> None:
        if len(self.recent) == self.recent.maxlen:
            self.recent_set.discard(self.recent[0])
        self.recent.append(seq)
        self.recent_set.add(seq)


@dataclass(frozen=True, slots=True)
class SeqVerdict:
    gaps: int  # seqs skipped before this batch (negative when a late batch fills a gap)
    duplicate: bool


class Accounting:
    def __init__(
        self, instance: str, interval_ms: int = INTERVAL_MS, stored: Stored | None = None, started_ms: int = 0
    ):
        """`stored` + `started_ms`: intervals starting before `started_ms` are merged with what
        is stored (see the module docstring); without `stored` counts start from zero."""
        self.instance = instance
        self.interval_ms = interval_ms
        self.stored = stored
        self.started_ms = started_ms
        self._merged_dead: set[tuple[int, str]] = set()
        self._devices: dict[tuple[str, str], _Device] = {}
        self._touched: set[tuple[str, str]] = set()  # devices with an interval changed since the last lines
        self.total_gaps = 0
        self.total_duplicates = 0
        self._expected: dict[tuple[str, str], float | None] = {}
        # Dead letters per (interval start, reason): counted from the MQTT thread, written by the writer.
        self._dead: dict[tuple[int, str], int] = {}
        self._dead_dirty: set[tuple[int, str]] = set()
        self._dead_lock = threading.Lock()

    def dead_letter(self, reason: str, now_ms: int) -> None:
        """Count one dead-lettered payload in the interval it was rejected in."""
        key = (now_ms - now_ms % self.interval_ms, reason)
        with self._dead_lock:
            self._dead[key] = self._dead.get(key, 0) + 1
            self._dead_dirty.add(key)
            newest = key[0]
            for old in [k for k in self._dead if k[0] < newest - KEEP_INTERVALS * self.interval_ms]:
                del self._dead[old]
                self._dead_dirty.discard(old)

    def restore_dead(self, counts: dict[tuple[int, str], int]) -> None:
        """Take counts of earlier runs per (interval start, reason) as this instance's own and
        write them at the next round: the ones a `kill -9` held in memory were filed, not written."""
        with self._dead_lock:
            for key, n in counts.items():
                if key in self._merged_dead or key[0] >= self.started_ms:
                    continue
                self._merged_dead.add(key)
                self._dead[key] = self._dead.get(key, 0) + n
                self._dead_dirty.add(key)

    def prepare(self, site: str, device: str, sample_ts: list[int]) -> None:
        """Call before writing a batch: merges intervals from before this start with what is stored."""
        if self.stored is None:
            return
        d = self._devices.setdefault((site, device), _Device())
        self._touched.add((site, device))
        first_own = self.started_ms - self.started_ms % self.interval_ms + self.interval_ms
        for start in {ts - ts % self.interval_ms for ts in sample_ts}:
            if start in d.intervals:
                continue  # merged already, or counted from its start by this process
            forgotten = bool(d.intervals) and start < max(d.intervals) - KEEP_INTERVALS * self.interval_ms
            if start >= first_own and not forgotten:
                continue  # began after this process started and never left memory: nothing else stored
            times = self.stored.sample_times(site, device, start, start + self.interval_ms)
            points = self.stored.quality(site, device, start)
            own = points.pop(self.instance, (0.0, 0.0, 0.0))
            others = int(sum(p[0] for p in points.values()))
            d.intervals[start] = _Interval(
                timestamps=set(times),
                seq_gaps=int(own[1]),
                duplicates=int(own[2]),
                others=min(others, len(times)),
            )

    def observe(
        self, site: str, device: str, seq: int, sample_ts: list[int], interval_s: float | None = None
    ) -> SeqVerdict:
        """Record one written batch; returns what its seq says about the stream."""
        d = self._devices.setdefault((site, device), _Device())
        self._touched.add((site, device))
        verdict = self._seq(d, seq)
        if not sample_ts:
            return verdict
        start = sample_ts[0] - sample_ts[0] % self.interval_ms
        iv = d.intervals.setdefault(start, _Interval())
        iv.seq_gaps += verdict.gaps
        iv.duplicates += int(verdict.duplicate)
        iv.dirty = True
        for ts in sample_ts:
            s = ts - ts % self.interval_ms
            other = iv if s == start else d.intervals.setdefault(s, _Interval())
            other.timestamps.add(ts)
            other.dirty = True
        self._expected[(site, device)] = interval_s
        newest = max(d.intervals)
        for old in [k for k in d.intervals if k < newest - KEEP_INTERVALS * self.interval_ms]:
            del d.intervals[old]
        return verdict

    def _seq(self, d: _Device, seq: int) -> SeqVerdict:
        if seq in d.recent_set:
            self.total_duplicates += 1
            return SeqVerdict(0, True)
        gaps = 0
        if d.last_seq is None or (seq == 0 and d.last_seq > 0):
            pass  # first batch seen, or the edge started its count again
        elif seq > d.last_seq + 1:
            gaps = seq - d.last_seq - 1
            # Remember only a bounded number of missing seqs: a huge jump is a gap, not a list.
            if gaps <= SEQ_WINDOW:
                d.missing.update(range(d.last_seq + 1, seq))
        elif seq < d.last_seq:
            if seq in d.missing:
                d.missing.discard(seq)
                gaps = -1  # a late batch filled a gap counted earlier
            else:
                self.total_duplicates += 1
                d.remember(seq)
                return SeqVerdict(0, True)
        d.remember(seq)
        if d.last_seq is None or seq > d.last_seq or (seq == 0 and d.last_seq > 0):
            d.last_seq = seq
        if len(d.missing) > SEQ_WINDOW:
            for s in sorted(d.missing)[: len(d.missing) - SEQ_WINDOW]:
                d.missing.discard(s)
        self.total_gaps += gaps
        return SeqVerdict(gaps, False)

    def quality_lines(self) -> list[str]:
        """`ingest_quality` and `dead_letters` lines for every interval that changed since the last call."""
        return self.sample_lines() + self.dead_letter_lines()

    def dead_letter_lines(self) -> list[str]:
        """`dead_letters` lines for every (interval, reason) counted since the last call."""
        with self._dead_lock:
            merge = [k for k in self._dead_dirty if k not in self._merged_dead and k[0] < self.started_ms]
        for key in merge:  # the stored count of an interval from before this start (I/O outside the lock)
            base = self.stored.dead_letters(self.instance, *key) if self.stored is not None else 0.0
            with self._dead_lock:
                self._merged_dead.add(key)
                if key in self._dead:
                    self._dead[key] += int(base)
        out: list[str] = []
        with self._dead_lock:
            for start, reason in sorted(self._dead_dirty):
                tags = {"component": COMPONENT, "reason": reason, "ingest": self.instance}
                out.append(line(sc.DEAD_LETTERS, tags, {"count": float(self._dead[(start, reason)])}, start))
            self._dead_dirty.clear()
        return out

    def sample_lines(self) -> list[str]:
        """`ingest_quality` lines for every device interval that changed since the last call.

        The service writes them in the same request as the batch that changed them, before
        acknowledging it: a sample acknowledged is a sample counted, even if the process is
        killed right after (a count held in memory would be lost with it, and nothing
        redelivered would bring back an interval that has ended)."""
        out: list[str] = []
        touched, self._touched = self._touched, set()
        for site, device in sorted(touched):
            d = self._devices[(site, device)]
            interval_s = self._expected.get((site, device))
            for start, iv in d.intervals.items():
                if not iv.dirty:
                    continue
                iv.dirty = False
                samples = len(iv.timestamps) - iv.others
                fields: dict[str, float | int | bool | str] = {
                    "samples": float(samples),
                    "seq_gaps": float(iv.seq_gaps),
                    "duplicates": float(iv.duplicates),
                }
                if interval_s:
                    expected = self.interval_ms / 1000 / interval_s
                    fields["expected"] = float(expected)
                    fields["completeness_pct"] = round(100.0 * samples / expected, 3)
                tags = {"site": site, "device": device, "ingest": self.instance}
                out.append(line(sc.INGEST_QUALITY, tags, fields, start))
        return out
