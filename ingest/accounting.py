"""Data-quality accounting: seq gaps, duplicates and completeness per device, dead letters by reason, per 15 min.

Pure bookkeeping (no I/O): the service feeds it the batches it has written and asks for
`ingest_quality` lines now and then. A batch's gaps and duplicates count in the interval of
its first sample. Counts are of what this process has seen since it started: with several
ingest processes on one shared subscription each sees part of every device's seq stream,
which is why every point carries the `ingest` tag (see docs/ingest.md).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from core.influx import line

INTERVAL_MS = 15 * 60 * 1000
QUALITY_MEASUREMENT = "ingest_quality"
DEAD_LETTERS_MEASUREMENT = "dead_letters"  # per 15 min: tags component, reason, ingest; field count
COMPONENT = "ingest"
# How many recent seqs per device are remembered to tell a duplicate from a late gap fill.
SEQ_WINDOW = 4096
# Intervals this far behind a device's newest one are final and forgotten.
KEEP_INTERVALS = 8


@dataclass
class _Interval:
    timestamps: set[int] = field(default_factory=set)
    seq_gaps: int = 0
    duplicates: int = 0
    dirty: bool = True


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
    def __init__(self, instance: str, interval_ms: int = INTERVAL_MS):
        self.instance = instance
        self.interval_ms = interval_ms
        self._devices: dict[tuple[str, str], _Device] = {}
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

    def observe(
        self, site: str, device: str, seq: int, sample_ts: list[int], interval_s: float | None = None
    ) -> SeqVerdict:
        """Record one written batch; returns what its seq says about the stream."""
        d = self._devices.setdefault((site, device), _Device())
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
        """`ingest_quality` lines for every interval that changed since the last call."""
        out: list[str] = []
        for (site, device), d in self._devices.items():
            interval_s = self._expected.get((site, device))
            for start, iv in d.intervals.items():
                if not iv.dirty:
                    continue
                iv.dirty = False
                fields: dict[str, float | int | bool | str] = {
                    "samples": float(len(iv.timestamps)),
                    "seq_gaps": float(iv.seq_gaps),
                    "duplicates": float(iv.duplicates),
                }
                if interval_s:
                    expected = self.interval_ms / 1000 / interval_s
                    fields["expected"] = float(expected)
                    fields["completeness_pct"] = round(100.0 * len(iv.timestamps) / expected, 3)
                tags = {"site": site, "device": device, "ingest": self.instance}
                out.append(line(QUALITY_MEASUREMENT, tags, fields, start))
        with self._dead_lock:
            for start, reason in sorted(self._dead_dirty):
                tags = {"component": COMPONENT, "reason": reason, "ingest": self.instance}
                out.append(line(DEAD_LETTERS_MEASUREMENT, tags, {"count": float(self._dead[(start, reason)])}, start))
            self._dead_dirty.clear()
        return out
