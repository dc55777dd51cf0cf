"""The SQLite outbox: order, seq kept across reopen, delete only on ack, disk cap drops oldest loudly."""

from __future__ import annotations

import logging
from pathlib import Path

from edge.outbox import Outbox
from plantcarbon_core.wire import Sample

T0 = 1_763_712_000_000


def s(i: int, **bad: str) -> Sample:
    return Sample(ts=T0 + i * 1000, values={"p_kw": float(i)}, bad=bad)


def test_batches_are_oldest_first_with_growing_seq_per_device(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite")
    for i in range(5):
        ob.add("a", s(i))
        ob.add("b", s(100 + i, pf="timeout"))
    first = ob.take("a", 3)
    second = ob.take("a", 3)
    assert first is not None and second is not None
    assert (first.seq, [x.ts for x in first.samples]) == (0, [T0, T0 + 1000, T0 + 2000])
    assert (second.seq, [x.values["p_kw"] for x in second.samples]) == (1, [3.0, 4.0])
    assert ob.take("a", 3) is None
    b = ob.take("b", 10)
    assert b is not None and b.seq == 0 and b.samples[0] == s(100, pf="timeout")
    assert ob.depth == 10
    assert ob.ack("a", 0) == 3 and ob.depth == 7
    assert ob.ack("a", 0) == 0  # a duplicate PUBACK deletes nothing more


def test_unacked_batches_survive_reopen_with_the_same_seq(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite")
    for i in range(4):
        ob.add("a", s(i))
    taken = ob.take("a", 2)
    assert taken is not None
    ob.close()  # as if killed after publishing, before the PUBACK
    ob = Outbox(tmp_path / "o.sqlite")
    assert ob.depth == 4
    replay = list(ob.unacked())
    assert [(p.device, p.seq, p.samples) for p in replay] == [("a", 0, taken.samples)]
    nxt = ob.take("a", 10)
    assert nxt is not None and nxt.seq == 1 and [x.ts for x in nxt.samples] == [T0 + 2000, T0 + 3000]
    ob.ack("a", 0)
    ob.ack("a", 1)
    ob.close()
    ob = Outbox(tmp_path / "o.sqlite")
    assert ob.depth == 0
    ob.add("a", s(9))
    again = ob.take("a", 10)
    assert again is not None and again.seq == 2  # seq continues after a restart


def test_disk_cap_drops_the_oldest_counts_and_warns(tmp_path: Path, caplog) -> None:
    ob = Outbox(tmp_path / "o.sqlite", max_bytes=2000)
    with caplog.at_level(logging.WARNING, logger="edge.outbox"):
        for i in range(200):
            ob.add("a", s(i))
    assert ob.dropped > 0
    assert ob.stored_bytes <= 2000
    assert ob.depth == 200 - ob.dropped
    kept = ob.take("a", 1000)
    assert kept is not None
    # What is kept is the newest, contiguous up to the last sample read.
    assert [x.ts for x in kept.samples] == [T0 + i * 1000 for i in range(200 - ob.depth, 200)]
    assert any("disk cap of 2000 bytes reached" in r.getMessage() for r in caplog.records)


def test_group_commit_gives_live_devices_their_seq_in_the_same_transaction(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite")
    ob.add("b", s(0))  # b has a row waiting: it must not overtake it
    batches, refused = ob.add_batch([("a", s(1)), ("b", s(2)), ("a", s(3, pf="timeout"))], live=lambda d: True)
    assert refused == []
    assert [(b.device, b.seq, b.samples) for b in batches] == [("a", 0, [s(1), s(3, pf="timeout")])]
    assert ob.take("a", 10) is None  # already batched
    backlog = ob.take("b", 10)
    assert backlog is not None and (backlog.seq, [x.ts for x in backlog.samples]) == (0, [T0, T0 + 2000])
    ob.close()
    ob = Outbox(tmp_path / "o.sqlite")  # committed with its seq: a crash now replays the same batch
    assert [(p.device, p.seq) for p in ob.unacked()] == [("b", 0), ("a", 0)]  # oldest row first
    assert ob.ack_many([("a", 0), ("b", 0)]) == 4 and ob.depth == 0
    again, _ = ob.add_batch([("a", s(4))], live=lambda d: True)
    assert [b.seq for b in again] == [1]  # seq continues after a restart


def test_group_commit_refuses_an_unencodable_sample_alone_and_skips_its_seq(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite")
    inf = Sample(ts=T0, values={"p_kw": float("inf")})
    batches, refused = ob.add_batch([("a", inf), ("b", s(1))], live=lambda d: True)
    assert [d for d, _ in refused] == ["a"] and isinstance(refused[0][1], ValueError)
    assert [b.device for b in batches] == ["b"] and ob.lost == 1
    nxt, _ = ob.add_batch([("a", s(2))], live=lambda d: True)
    assert [b.seq for b in nxt] == [1]  # seq 0 was the unstored sample's: ingest counts one missing
    assert [(p.device, p.seq) for p in ob.unacked()] == [("b", 0), ("a", 1)]


def test_batch_payload_decodes_like_encode_batch_and_keeps_odd_floats(tmp_path: Path) -> None:
    from edge.outbox import batch_of
    from plantcarbon_core.wire import decode_batch, encode_batch

    ob = Outbox(tmp_path / "o.sqlite")
    odd = [1e16, 1e-5, -0.0, 1e300, 5e-324, 2.0**53, 123456789.123, 0.1 + 0.2]
    ob.add_many("m", [Sample(ts=T0 + i, values={"p_kw": v, "q_kvar": -v}, bad={"pf": "x"}) for i, v in enumerate(odd)])
    batch = ob.take("m", 100)
    assert batch is not None
    got = decode_batch(batch.payload("e"))
    assert got == decode_batch(encode_batch(batch_of("e", batch)))
    assert [s.values["p_kw"] for s in got.samples] == odd  # every float exactly


def test_batch_payload_is_byte_for_byte_encode_batch(tmp_path: Path) -> None:
    from edge.outbox import batch_of
    from plantcarbon_core.wire import encode_batch

    ob = Outbox(tmp_path / "o.sqlite")
    ob.add_many("tr-01", [s(i, pf="not available (NaN)") if i % 2 else s(i) for i in range(5)])
    # A row in the format written before the wire-format body ([values, bad]).
    ob._db.execute(
        "INSERT INTO samples (device, ts, body) VALUES ('tr-01', ?, ?)", (T0 + 9000, '[{"p_kw":9.5},{"pf":"x"}]')
    )
    ob._unbatched["tr-01"] += 1
    batch = ob.take("tr-01", 10)
    assert batch is not None and len(batch.bodies) == 6
    assert batch.payload("edge-01") == encode_batch(batch_of("edge-01", batch))
    assert batch.samples[-1] == Sample(ts=T0 + 9000, values={"p_kw": 9.5}, bad={"pf": "x"})


def test_disk_cap_bounds_the_file_not_the_json(tmp_path: Path) -> None:
    cap = 1 << 20
    ob = Outbox(tmp_path / "o.sqlite", max_bytes=cap)
    values = {f"v{i}": 1234.5678 + i for i in range(20)}
    # Small samples cost the most beside their JSON: the rows, two indexes and page slack.
    for i in range(4000):
        ob.add_many(f"m-{i % 50:03d}", [Sample(ts=T0 + i * 1000 + k, values={"p_kw": float(k)}) for k in range(10)])
    for i in range(1000):
        ob.add(f"m-{i % 50:03d}", Sample(ts=T0 + i, values=values))
    assert ob.dropped > 0
    ob._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = (tmp_path / "o.sqlite").stat().st_size
    json_bytes = ob._db.execute("SELECT SUM(LENGTH(body)) FROM samples").fetchone()[0]
    assert size <= cap * 1.1 + 64 * 1024, (size, cap)
    assert json_bytes < size / 1.5  # a JSON-byte cap would have let the file grow well past the cap


def test_ack_many_deletes_exactly_the_acknowledged_batches_across_chunks(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite")
    devices = [f"d{i:03d}" for i in range(300)]  # more batches than one DELETE statement takes
    for seq in range(2):
        batches, _ = ob.add_batch([(d, s(seq * 1000 + i)) for i, d in enumerate(devices)], live=lambda d: True)
        assert {b.seq for b in batches} == {seq}
    acked = [(d, 0) for d in devices] + [("d007", 1), ("nobody", 0), ("d007", 1)]  # a stranger, a duplicate
    assert ob.ack_many(acked) == 301 and ob.depth == 299
    left = {(p.device, p.seq) for p in ob.unacked()}
    assert left == {(d, 1) for d in devices if d != "d007"}
    ob.close()
