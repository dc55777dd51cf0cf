"""The durable outbox: every sample is committed to SQLite (WAL) before it is published.

Samples are stored one row each as they are read. The publisher takes a device's oldest
pending rows, gives them the device's next `seq` in the same transaction (so a batch keeps
its seq across a crash and a replay is the same batch) and deletes them only when the
broker's PUBACK for that batch arrives. After an outage the backlog drains in large batches,
oldest first, while new samples queue behind it: order per device is the row order.

Failure model: `kill -9` at any point loses no committed row (WAL, one transaction per
`add`; `synchronous=NORMAL` survives a process crash, `durable=True` makes it FULL for power
loss). A batch published but not yet acknowledged is published again on restart with the
same seq (at-least-once; ingest counts the duplicate). When the stored samples exceed
`max_bytes`, the oldest are dropped, counted in `dropped` and logged — never silently.
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
"""


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
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM samples").fetchone()
        self._count, self._bytes = int(row[0]), int(row[1])

    # --- writing ------------------------------------------------------------------------

    def add(self, device: str, sample: Sample) -> None:
        """Commit one sample; it is durable when this returns."""
        body = _body(sample)
        self._db.execute("INSERT INTO samples (device, ts, body) VALUES (?, ?, ?)", (device, sample.ts, body))
        self._count += 1
        self._bytes += len(body)
        if self._bytes > self.max_bytes:
            self._enforce_cap()

    def add_many(self, device: str, samples: list[Sample]) -> None:
        """Commit several samples of one device in one transaction (a burst, a replay, a bench)."""
        rows = [(device, s.ts, _body(s)) for s in samples]
        with self._tx():
            self._db.executemany("INSERT INTO samples (device, ts, body) VALUES (?, ?, ?)", rows)
        self._count += len(rows)
        self._bytes += sum(len(r[2]) for r in rows)
        if self._bytes > self.max_bytes:
            self._enforce_cap()

    def _enforce_cap(self) -> None:
        # Drop a tenth of the cap at a time so the cap is not checked on every insert.
        target = int(self.max_bytes * 0.9)
        dropped = dropped_bytes = 0
        with self._tx():
            for rid, size in self._db.execute("SELECT id, LENGTH(body) FROM samples ORDER BY id").fetchall():
                if self._bytes - dropped_bytes <= target:
                    break
                self._db.execute("DELETE FROM samples WHERE id = ?", (rid,))
                dropped += 1
                dropped_bytes += size
        self._count -= dropped
        self._bytes -= dropped_bytes
        self.dropped += dropped
        log.warning(
            "outbox: disk cap of %d bytes reached: dropped the %d oldest samples (%d dropped since start)",
            self.max_bytes,
            dropped,
            self.dropped,
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
        self._bytes -= sum(sizes)
        return len(sizes)

    # --- state --------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Samples stored and not yet acknowledged."""
        return self._count

    @property
    def stored_bytes(self) -> int:
        return self._bytes

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
