"""The durable outbox: every sample is committed to SQLite (WAL) before it is published.

Samples are stored one row each as they are read. The publisher takes a device's oldest
pending rows, gives them the device's next `seq` in the same transaction (so a batch keeps
its seq across a crash and a replay is the same batch) and deletes them only when the
broker's PUBACK for that batch arrives. After an outage the backlog drains in large batches,
oldest first, while new samples queue behind it: order per device is the row order.

Failure model: `kill -9` at any point loses no committed row (WAL, one transaction per
`add`; `synchronous=NORMAL` survives a process crash, `durable=True` makes it FULL for power
loss). A batch published but not yet acknowledged is published again on restart with the
same seq (at-least-once; ingest counts the duplicate).

Disk cap: `max_bytes` bounds what the samples really take in the file — SQLite pages in use
(rows and both indexes, about 4× the JSON they hold), measured with `PRAGMA page_count` and
`freelist_count` — not the JSON length. When it is exceeded the oldest samples are dropped,
never silently: counted in `dropped` (since start) and `dropped_total` (kept in the file),
logged, and each dropped sample that had no batch yet consumes one of its device's seq
numbers, so ingest counts the loss as a seq gap. The WAL is bounded apart from the cap by
SQLite's checkpoint (1,000 pages) and `journal_size_limit`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.wire import ReadingBatch, Sample

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    ts INTEGER NOT NULL,
    body TEXT NOT NULL,
    seq INTEGER
);
CREATE INDEX IF NOT EXISTS samples_device ON samples (device, id);
CREATE INDEX IF NOT EXISTS samples_batch ON samples (device, seq);
CREATE TABLE IF NOT EXISTS seqs (device TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Real bytes per JSON byte assumed until the data fill enough pages to measure it.
_DEFAULT_RATIO = 4.0
# Pages of data (beyond the empty schema) needed before the measured ratio is trusted.
_MEASURE_MIN_PAGES = 16
_WAL_LIMIT_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class PendingBatch:
    device: str
    seq: int
    samples: list[Sample]


def _body(s: Sample) -> str:
    return json.dumps([s.values, s.bad] if s.bad else [s.values], separators=(",", ":"), allow_nan=False)


def _sample(ts: int, body: str) -> Sample:
    parts = json.loads(body)
    return Sample(ts=ts, values=parts[0], bad=parts[1] if len(parts) > 1 else {})


class Outbox:
    """One SQLite file; used from one thread (the agent's event loop)."""

    def __init__(self, path: Path, *, max_bytes: int = 1 << 30, durable: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.dropped = 0  # samples dropped by the disk cap since start
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute(f"PRAGMA journal_size_limit={_WAL_LIMIT_BYTES}")
        self._db.executescript(_SCHEMA)
        self._page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        # Pages an outbox holds with no sample: the schema itself, not counted against the cap.
        tables = self._db.execute("SELECT COUNT(*) FROM sqlite_master WHERE rootpage > 0").fetchone()[0]
        self._base_pages = 1 + int(tables)
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM samples").fetchone()
        self._count, self._json_bytes = int(row[0]), int(row[1])
        self._ratio = _DEFAULT_RATIO
        self._measure()
        row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        self._dropped_before = int(row[0]) if row else 0
        # Samples read but never stored (the write failed), per device: their seqs are skipped
        # at the next write that succeeds, so ingest counts them as a gap.
        self._unstored: dict[str, int] = {}
        self.lost = 0  # samples that could not be stored since start

    # --- writing ------------------------------------------------------------------------

    def add(self, device: str, sample: Sample) -> None:
        """Commit one sample; it is durable when this returns. Raises when it cannot be stored
        (a value JSON cannot hold, `sqlite3.OperationalError` on a full disk): see `lost`."""
        body = _body(sample)
        if self._unstored:
            with self._tx():
                self._db.execute("INSERT INTO samples (device, ts, body) VALUES (?, ?, ?)", (device, sample.ts, body))
                self._skip_seqs(self._unstored)
            self._unstored = {}
        else:
            self._db.execute("INSERT INTO samples (device, ts, body) VALUES (?, ?, ?)", (device, sample.ts, body))
        self._count += 1
        self._json_bytes += len(body)
        if self.stored_bytes > self.max_bytes:
            self._enforce_cap()

    def add_many(self, device: str, samples: list[Sample]) -> None:
        """Commit several samples of one device in one transaction (a burst, a replay, a bench)."""
        rows = [(device, s.ts, _body(s)) for s in samples]
        with self._tx():
            self._db.executemany("INSERT INTO samples (device, ts, body) VALUES (?, ?, ?)", rows)
        self._count += len(rows)
        self._json_bytes += sum(len(r[2]) for r in rows)
        if self.stored_bytes > self.max_bytes:
            self._enforce_cap()

    def not_stored(self, device: str, n: int = 1) -> None:
        """`n` samples of `device` were read but could not be stored: skip their seqs later."""
        self._unstored[device] = self._unstored.get(device, 0) + n
        self.lost += n

    def _skip_seqs(self, counts: dict[str, int]) -> None:
        # Inside a transaction. A sample that never reaches a batch consumes a seq: ingest sees a gap.
        self._db.executemany(
            "INSERT INTO seqs (device, next) VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET next = next + ?",
            [(d, n, n) for d, n in counts.items()],
        )

    def _measure(self) -> None:
        """Re-measure real bytes per JSON byte from the pages the samples occupy."""
        pages = int(self._db.execute("PRAGMA page_count").fetchone()[0])
        free = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
        data_pages = pages - free - self._base_pages
        if data_pages >= _MEASURE_MIN_PAGES and self._json_bytes > 0:
            # Clamped: right after a drop, half-emptied index pages would inflate it for a while.
            self._ratio = min(max(data_pages * self._page_size / self._json_bytes, 1.0), 3 * _DEFAULT_RATIO)

    def _enforce_cap(self) -> None:
        """Drop the oldest samples down to 90 % of the cap (so the cap is not hit on every insert)."""
        self._measure()
        if self.stored_bytes <= self.max_bytes:
            return
        target = int(self.max_bytes * 0.9 / self._ratio)  # in JSON bytes
        dropped = dropped_bytes = 0
        unbatched: dict[str, int] = {}
        with self._tx():
            rows = self._db.execute("SELECT id, device, seq, LENGTH(body) FROM samples ORDER BY id").fetchall()
            last_id = None
            for rid, device, seq, size in rows:
                if self._json_bytes - dropped_bytes <= target:
                    break
                last_id = rid
                dropped += 1
                dropped_bytes += size
                if seq is None:
                    unbatched[device] = unbatched.get(device, 0) + 1
            if last_id is not None:
                self._db.execute("DELETE FROM samples WHERE id <= ?", (last_id,))
            self._skip_seqs(unbatched)
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (dropped,),
            )
        self._count -= dropped
        self._json_bytes -= dropped_bytes
        self.dropped += dropped
        log.warning(
            "outbox: disk cap of %d bytes reached: dropped the %d oldest samples of %d devices (%d dropped since "
            "start, %d in this outbox's life); their seqs are skipped, so ingest counts the gap",
            self.max_bytes,
            dropped,
            len(unbatched),
            self.dropped,
            self.dropped_total,
        )

    # --- publishing ---------------------------------------------------------------------

    def unacked(self) -> Iterator[PendingBatch]:
        """Batches given a seq but never acknowledged (from before a restart), oldest first."""
        rows = self._db.execute(
            "SELECT device, seq, MIN(id) FROM samples WHERE seq IS NOT NULL GROUP BY device, seq ORDER BY MIN(id)"
        ).fetchall()
        for device, seq, _ in rows:
            yield PendingBatch(device, int(seq), self._batch_samples(device, int(seq)))

    def devices_pending(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT device FROM samples WHERE seq IS NULL")]

    def take(self, device: str, max_samples: int) -> PendingBatch | None:
        """The device's oldest unbatched samples as the next batch, its seq committed with it."""
        with self._tx():
            ids = self._db.execute(
                "SELECT id FROM samples WHERE device = ? AND seq IS NULL ORDER BY id LIMIT ?", (device, max_samples)
            ).fetchall()
            if not ids:
                return None
            row = self._db.execute("SELECT next FROM seqs WHERE device = ?", (device,)).fetchone()
            seq = int(row[0]) if row else 0
            self._db.execute(
                "INSERT INTO seqs (device, next) VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET next = excluded.next",
                (device, seq + 1),
            )
            self._db.execute(
                "UPDATE samples SET seq = ? WHERE device = ? AND seq IS NULL AND id BETWEEN ? AND ?",
                (seq, device, ids[0][0], ids[-1][0]),
            )
        return PendingBatch(device, seq, self._batch_samples(device, seq))

    def _batch_samples(self, device: str, seq: int) -> list[Sample]:
        rows = self._db.execute(
            "SELECT ts, body FROM samples WHERE device = ? AND seq = ? ORDER BY id", (device, seq)
        ).fetchall()
        return [_sample(ts, body) for ts, body in rows]

    def ack(self, device: str, seq: int) -> int:
        """The broker has the batch: delete its samples. Returns how many were deleted."""
        cur = self._db.execute("DELETE FROM samples WHERE device = ? AND seq = ? RETURNING LENGTH(body)", (device, seq))
        sizes = [r[0] for r in cur.fetchall()]
        self._count -= len(sizes)
        self._json_bytes -= sum(sizes)
        return len(sizes)

    # --- state --------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Samples stored and not yet acknowledged."""
        return self._count

    @property
    def stored_bytes(self) -> int:
        """What the pending samples take in the file (pages, estimated between measurements)."""
        return int(self._json_bytes * self._ratio)

    @property
    def dropped_total(self) -> int:
        """Samples dropped by the disk cap over this outbox file's life (survives restarts)."""
        return self._dropped_before + self.dropped

    def close(self) -> None:
        self._db.close()

    def _tx(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def batch_of(edge: str, pending: PendingBatch) -> ReadingBatch:
    return ReadingBatch(edge=edge, device=pending.device, seq=pending.seq, samples=pending.samples)
