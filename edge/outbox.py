"""The durable outbox: every sample is committed to SQLite (WAL) before it is published.

Samples are stored one row each, in the wire contract's own JSON for a sample, so a batch's
payload is spliced from stored rows without decoding them. Two ways out:

- live: `add_batch` commits what the agent read in one short window (a group commit, one
  transaction per window instead of one per sample). A device with nothing older waiting
  gets its next `seq` in that same transaction, and the encoded batch is handed straight to
  the publisher — no second transaction, no read back.
- backlog: otherwise (broker away, a backlog ahead) rows wait without a seq; `take` gives a
  device's oldest rows the next `seq` in one transaction (a batch keeps its seq across a
  crash, a replay is the same batch). After an outage the backlog drains in large batches,
  oldest first, while new samples queue behind it: order per device is the row order.

Rows are deleted when the broker's PUBACK for their batch arrives (`ack_many`: one
transaction for all the PUBACKs of a window).

Failure model: `kill -9` at any point loses no committed row (WAL; `synchronous=NORMAL`
survives a process crash, `durable=True` makes it FULL for power loss). Nothing is handed
to the publisher before the transaction holding it has committed. A batch published but not
yet acknowledged is published again on restart with the same seq (at-least-once; ingest
counts the duplicate); so is one acknowledged within the last window before a crash.

Disk cap: `max_bytes` bounds what the samples really take in the file — SQLite pages in use
(rows and both indexes), measured with `PRAGMA page_count` and `freelist_count` — not the
JSON length. When it is exceeded the oldest samples not yet in a batch are dropped (batched
ones are on their way to the broker and never dropped), never silently: counted in
`dropped` (since start) and `dropped_total` (kept in the file), logged, and each dropped
sample that had no batch yet consumes one of its device's seq numbers, so ingest counts the
loss as a seq gap. The WAL is bounded apart from the cap by SQLite's checkpoint (1,000
pages) and `journal_size_limit`.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from plantcarbon_core.wire import ReadingBatch, Sample, encode_batch

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
_INSERT = "INSERT INTO samples (device, ts, body, seq) VALUES (?, ?, ?, ?)"
_SET_SEQ = "INSERT INTO seqs (device, next) VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET next = excluded.next"


_ACK_CHUNK = 256  # (device, seq) pairs per DELETE: 512 parameters, far below SQLite's limit


def _ack_sql(n: int) -> str:
    """Delete the samples of `n` batches given as (device, seq) parameter pairs, returning their sizes."""
    pairs = ",".join(["(?,?)"] * n)
    return (
        f"DELETE FROM samples WHERE id IN (SELECT s.id FROM (VALUES {pairs}) AS v "
        "CROSS JOIN samples AS s ON s.device = v.column1 AND s.seq = v.column2) RETURNING LENGTH(body)"
    )


def _frame(edge: str, device: str, seq: int) -> tuple[bytes, bytes]:
    """The bytes before and after a batch's samples, as `plantcarbon_core.wire.encode_batch` writes them."""
    empty = encode_batch(ReadingBatch(edge=edge, device=device, seq=seq, samples=[]))
    head, _, tail = empty.rpartition(b"[]")
    return head + b"[", b"]" + tail


def sample_json(s: Sample) -> str:
    """One sample as it sits inside a batch: the structure `encode_batch` writes, encoded by
    orjson (a fifth of the stdlib encoder's time for 20 floats; same values, an exponent may
    be spelled `1e16` instead of `1e+16`). Raises ValueError for NaN/inf, which orjson would
    quietly turn into null and the wire contract refuses."""
    if not all(map(math.isfinite, s.values.values())):
        bad = sorted(k for k, v in s.values.items() if not math.isfinite(v))
        raise ValueError(f"non-finite value for {', '.join(bad)}: JSON cannot hold it")
    doc = {"ts": s.ts, "values": s.values, "bad": s.bad} if s.bad else {"ts": s.ts, "values": s.values}
    return orjson.dumps(doc).decode("utf-8")


def _sample(ts: int, body: str) -> Sample:
    doc = json.loads(body)
    if isinstance(doc, list):  # rows written before the wire-format body: [values] or [values, bad]
        return Sample(ts=ts, values=doc[0], bad=doc[1] if len(doc) > 1 else {})
    return Sample(ts=doc["ts"], values=doc["values"], bad=doc.get("bad", {}))


def _wire(ts: int, body: str) -> str:
    return body if body.startswith("{") else sample_json(_sample(ts, body))


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """A batch with its seq: the stored samples' wire JSON, ready to splice into a payload."""

    device: str
    seq: int
    bodies: tuple[str, ...]

    @property
    def samples(self) -> list[Sample]:
        return [_sample(0, b) for b in self.bodies]

    def payload(self, edge: str) -> bytes:
        """What `encode_batch` gives for this batch: its own frame, the samples as `sample_json`."""
        parts = _FRAMES.get((edge, self.device))
        if parts is None:
            parts = _FRAMES[(edge, self.device)] = _frame_parts(edge, self.device)
        before, after, tail = parts
        return b"%s%d%s%s%s" % (before, self.seq, after, ",".join(self.bodies).encode("utf-8"), tail)


# (edge, device) → the frame around the seq digits: encode_batch's own bytes, computed once.
_FRAMES: dict[tuple[str, str], tuple[bytes, bytes, bytes]] = {}


def _frame_parts(edge: str, device: str) -> tuple[bytes, bytes, bytes]:
    head, tail = _frame(edge, device, 7)
    before, sep, after = head.partition(b'"seq":7')
    if not sep:
        raise AssertionError(f"encode_batch no longer writes a seq as expected: {head!r}")
    return before + b'"seq":', after, tail


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
        # Mirrors of the file, so the live path reads nothing back: next seq, rows without a seq.
        self._next: dict[str, int] = {d: int(n) for d, n in self._db.execute("SELECT device, next FROM seqs")}
        self._unbatched: dict[str, int] = {
            d: int(n) for d, n in self._db.execute("SELECT device, COUNT(*) FROM samples WHERE seq IS NULL GROUP BY 1")
        }

    # --- writing ------------------------------------------------------------------------

    def add(self, device: str, sample: Sample) -> None:
        """Commit one sample; it is durable when this returns. Raises when it cannot be stored
        (a value JSON cannot hold, `sqlite3.OperationalError` on a full disk): see `lost`."""
        self._commit([(device, sample.ts, sample_json(sample), None)], {})

    def add_many(self, device: str, samples: list[Sample]) -> None:
        """Commit several samples of one device in one transaction (a burst, a replay, a bench)."""
        self._commit([(device, s.ts, sample_json(s), None) for s in samples], {})

    def add_batch(
        self, items: Iterable[tuple[str, Sample]], live: Callable[[str], bool] = lambda _d: False
    ) -> tuple[list[PendingBatch], list[tuple[str, Exception]]]:
        """Commit many devices' samples in one transaction (the agent's group commit).

        A device for which `live(device)` holds and that has no row waiting without a seq
        gets its next seq here: its samples come back as a batch to publish now. Returns those
        batches and the samples that could not be encoded (device, error): those are counted
        in `lost` and skip their seq. Raises (nothing committed) when the write fails.
        """
        rows: list[tuple[str, int, str, int | None]] = []
        by_device: dict[str, list[str]] = {}
        refused: list[tuple[str, Exception]] = []
        for device, sample in items:
            try:
                body = sample_json(sample)
            except ValueError as exc:  # a value JSON cannot hold (NaN, inf)
                refused.append((device, exc))
                self.not_stored(device)
                continue
            by_device.setdefault(device, []).append(body)
            rows.append((device, sample.ts, body, None))
        seqs: dict[str, int] = {}
        batches: list[PendingBatch] = []
        for device, bodies in by_device.items():
            if not self._unbatched.get(device) and device not in self._unstored and live(device):
                seqs[device] = seq = self._next.get(device, 0)
                batches.append(PendingBatch(device, seq, tuple(bodies)))
        if seqs:
            rows = [(d, ts, b, seqs.get(d)) for d, ts, b, _ in rows]
        self._commit(rows, {d: s + 1 for d, s in seqs.items()})
        return batches, refused

    def _commit(self, rows: list[tuple[str, int, str, int | None]], next_seqs: dict[str, int]) -> None:
        """Insert `rows` and set `next_seqs` in one transaction, with any seqs owed by unstored samples."""
        skipped: dict[str, int] = {}
        with self._tx():
            self._db.executemany(_INSERT, rows)
            if next_seqs:
                self._db.executemany(_SET_SEQ, list(next_seqs.items()))
            if self._unstored:
                skipped = self._skip_seqs(self._unstored)
        # Committed: now the mirrors may move.
        self._next.update(next_seqs)
        if skipped:
            self._next.update(skipped)
            self._unstored = {}
        for d, _, _, seq in rows:
            if seq is None:
                self._unbatched[d] = self._unbatched.get(d, 0) + 1
        self._count += len(rows)
        self._json_bytes += sum(len(r[2]) for r in rows)
        if self.stored_bytes > self.max_bytes:
            self._enforce_cap()

    def not_stored(self, device: str, n: int = 1) -> None:
        """`n` samples of `device` were read but could not be stored: skip their seqs later."""
        self._unstored[device] = self._unstored.get(device, 0) + n
        self.lost += n

    def _skip_seqs(self, counts: dict[str, int]) -> dict[str, int]:
        """Inside a transaction: a sample that never reaches a batch consumes a seq (ingest sees a
        gap). Returns the devices' next seqs, for the caller to mirror once committed."""
        nxt = {d: self._next.get(d, 0) + n for d, n in counts.items()}
        self._db.executemany(_SET_SEQ, list(nxt.items()))
        return nxt

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
            # Only rows without a seq: a row with one was handed to the broker already (its
            # PUBACK deletes it) or is the replay after a restart — at most `max_inflight`
            # batches, which may hold the file above the cap for a while.
            rows = self._db.execute("SELECT id, device, LENGTH(body) FROM samples WHERE seq IS NULL ORDER BY id")
            last_id = None
            for rid, device, size in rows:
                if self._json_bytes - dropped_bytes <= target:
                    break
                last_id = rid
                dropped += 1
                dropped_bytes += size
                unbatched[device] = unbatched.get(device, 0) + 1
            if last_id is not None:
                self._db.execute("DELETE FROM samples WHERE seq IS NULL AND id <= ?", (last_id,))
            skipped = self._skip_seqs(unbatched)
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (dropped,),
            )
        self._next.update(skipped)
        for d, n in unbatched.items():
            self._unbatched[d] -= n
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
            yield PendingBatch(device, int(seq), self._batch_bodies(device, int(seq)))

    def devices_pending(self) -> list[str]:
        """Devices with rows waiting for a batch."""
        return [d for d, n in self._unbatched.items() if n > 0]

    def take(self, device: str, max_samples: int) -> PendingBatch | None:
        """The device's oldest unbatched samples as the next batch, its seq committed with it."""
        if not self._unbatched.get(device):
            return None
        seq = self._next.get(device, 0)
        with self._tx():
            ids = self._db.execute(
                "SELECT id FROM samples WHERE device = ? AND seq IS NULL ORDER BY id LIMIT ?", (device, max_samples)
            ).fetchall()
            if not ids:
                return None
            self._db.execute(_SET_SEQ, (device, seq + 1))
            self._db.execute(
                "UPDATE samples SET seq = ? WHERE device = ? AND seq IS NULL AND id BETWEEN ? AND ?",
                (seq, device, ids[0][0], ids[-1][0]),
            )
        self._next[device] = seq + 1
        self._unbatched[device] -= len(ids)
        return PendingBatch(device, seq, self._batch_bodies(device, seq))

    def _batch_bodies(self, device: str, seq: int) -> tuple[str, ...]:
        rows = self._db.execute(
            "SELECT ts, body FROM samples WHERE device = ? AND seq = ? ORDER BY id", (device, seq)
        ).fetchall()
        return tuple(_wire(ts, body) for ts, body in rows)

    def ack(self, device: str, seq: int) -> int:
        """The broker has the batch: delete its samples. Returns how many were deleted."""
        return self.ack_many([(device, seq)])

    def ack_many(self, batches: list[tuple[str, int]]) -> int:
        """Several acknowledged batches deleted in one transaction. Returns how many samples went."""
        deleted = size = 0
        with self._tx():
            # One statement per chunk of batches, not one per batch (each found by the
            # (device, seq) index): a window's PUBACKs cost one round through SQLite.
            for i in range(0, len(batches), _ACK_CHUNK):
                chunk = batches[i : i + _ACK_CHUNK]
                cur = self._db.execute(_ack_sql(len(chunk)), [x for pair in chunk for x in pair])
                sizes = [r[0] for r in cur.fetchall()]
                deleted += len(sizes)
                size += sum(sizes)
        self._count -= deleted
        self._json_bytes -= size
        return deleted

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
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL does)
            self._db.execute("ROLLBACK")


def batch_of(edge: str, pending: PendingBatch) -> ReadingBatch:
    return ReadingBatch(edge=edge, device=pending.device, seq=pending.seq, samples=pending.samples)
