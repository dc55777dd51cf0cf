"""Faults that must not stop a link: an unencodable value, a full disk, the disk cap — counted, reported, visible.

Real parts: pymodbus servers, Mosquitto, SQLite. The full disk is SQLite's own SQLITE_FULL
(`PRAGMA max_page_count` set to the pages in use), the same `sqlite3.OperationalError` a full
file system raises.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.agent import Agent
from harness.mosquitto import start_mosquitto
from plantcarbon.cli import app
from plantcarbon_core.profile import load_profile
from tests.edge.conftest import image_for, make_plant, modbus_device, running_agent, truth_for
from tests.edge.test_cli import write_plant
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.integration

W_SF = 40091  # SunSpec model 203 W_SF, holding register (plantcarbon_core/meter_profiles/sunspec-203.yaml)


def polls(agent: Agent) -> float:
    return sum(agent.metrics.value("pc_edge_polls_total", result=r) for r in ("ok", "partial"))


def fill_disk(db: sqlite3.Connection) -> None:
    """No page left: the file may not grow and every free byte in it is taken."""
    db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    for size in (4000, 500, 50, 1):
        with contextlib.suppress(sqlite3.OperationalError):
            while True:
                db.execute("INSERT INTO filler VALUES (zeroblob(?))", (size,))


async def test_w_sf_308_does_not_stop_polling_for_the_other_devices_on_the_link(
    mosquitto, modbus_server, collector, tmp_path: Path, sdm630
) -> None:
    sunspec = load_profile("sunspec-203")
    server = modbus_server({1: image_for(sunspec, truth_for(sunspec)), 2: image_for(sdm630, truth_for(sdm630))})
    server.set_words(1, "holding", W_SF, [308])  # p_kw × 10^308: infinite
    plant = make_plant(
        [
            modbus_device("pv-1", server.port, unit=1, profile="sunspec-203", interval_s=0.2),
            modbus_device("m-2", server.port, unit=2, interval_s=0.2),
        ],
        site="wsf",
    )
    col = collector(mosquitto, "pc/wsf/#")
    async with running_agent(plant, mosquitto, tmp_path, status_s=0.2) as agent:
        assert await wait_until_async(lambda: len(col.batches("m-2")) >= 10, 20)
        errors = agent.metrics.error_counts()
    # The infinite value is refused where it appears (bad value) or where it is stored (an
    # outbox write error, counted); either way the neighbour on the link kept its schedule.
    refused = sum(n for k, n in errors.items() if k.startswith(("outbox_write:", "bad_value:", "poll_crash")))
    assert refused >= 1, errors
    assert [b.seq for b in col.batches("m-2")[:10]] == list(range(10))
    assert all(all(v != float("inf") for v in s.values.values()) for _, s in col.samples("pv-1"))


async def test_a_full_disk_is_counted_reported_and_polling_goes_on(
    modbus_server, collector, tmp_path: Path, sdm630
) -> None:
    broker = start_mosquitto(tmp_path / "broker")  # dedicated: this test stops it (no acks: the file fills)
    try:
        server = modbus_server({u: image_for(sdm630, truth_for(sdm630)) for u in (1, 2)})
        plant = make_plant([modbus_device(f"m-{u}", server.port, unit=u, interval_s=0.1) for u in (1, 2)], site="full")
        col = collector(broker, "pc/full/#", persistent=True)
        async with running_agent(plant, broker, tmp_path, status_s=0.2) as agent:
            assert await wait_until_async(lambda: len(col.batches("m-1")) >= 2 and len(col.batches("m-2")) >= 2, 20)
            broker.stop()
            fill_disk(agent.outbox._db)
            assert await wait_until_async(lambda: agent.outbox.lost >= 10, 20)
            before = polls(agent)
            assert await wait_until_async(lambda: polls(agent) >= before + 4, 20)  # still polling
            agent.outbox._db.execute("DROP TABLE filler")
            agent.outbox._db.execute("PRAGMA max_page_count = 1073741823")  # space again
            broker.start()
            unstored = agent.metrics.value("pc_edge_outbox_unstored_samples_total")
            full = agent.metrics.value("pc_edge_errors_total", kind="outbox_write:OperationalError")
            status = "/_edge/edge-01/status"
            assert await wait_until_async(
                lambda: any(s.get("outbox_unstored", 0) >= unstored for s in col.status(status)), 20
            )
            assert await wait_until_async(lambda: agent.outbox.depth == 0 and polls(agent) >= before + 20, 20)
            lost = agent.outbox.lost
            stored = agent.metrics.value("pc_edge_samples_stored_total")
            assert col.wait(lambda: sum(len({s.ts for _, s in col.samples(d)}) for d in ("m-1", "m-2")) >= stored)
    finally:
        broker.stop()
    assert unstored >= 10 and full >= 1  # each failed write is one error; each sample it held is unstored
    # Each unstored sample consumed its device's seq: ingest counts exactly that many missing.
    missing = 0
    for dev in ("m-1", "m-2"):
        seqs = {b.seq for b in col.batches(dev)}
        missing += max(seqs) + 1 - len(seqs)
    assert missing == lost


async def test_disk_cap_drops_show_as_seq_gaps_and_in_the_edge_status(
    modbus_server, collector, tmp_path: Path, sdm630
) -> None:
    broker = start_mosquitto(tmp_path / "broker")  # dedicated: this test stops it
    try:
        server = modbus_server({1: image_for(sdm630, truth_for(sdm630))})
        plant = make_plant([modbus_device("m-1", server.port, interval_s=0.05)], site="cap")
        col = collector(broker, "pc/cap/#", persistent=True)
        async with running_agent(plant, broker, tmp_path, status_s=0.2, outbox_max_bytes=96_000) as agent:
            assert await wait_until_async(lambda: len(col.batches("m-1")) >= 2, 20)
            broker.stop()
            assert await wait_until_async(lambda: agent.outbox.dropped > 0, 60)
            broker.start()
            assert await wait_until_async(lambda: agent.publisher.connected and agent.outbox.depth == 0, 60)
            dropped = agent.outbox.dropped  # all acknowledged: nothing more to drop
            stored = agent.metrics.value("pc_edge_samples_stored_total")
            assert col.wait(lambda: len({s.ts for _, s in col.samples("m-1")}) >= stored - dropped, 30)
            assert col.wait(
                lambda: any(s.get("outbox_dropped") == dropped for s in col.status("/_edge/edge-01/status"))
            )
            assert agent.outbox.dropped == dropped
    finally:
        broker.stop()
    seqs = {b.seq for b in col.batches("m-1")}
    assert max(seqs) + 1 - len(seqs) == dropped  # every dropped sample is a missing seq at ingest
    assert agent.metrics.value("pc_edge_outbox_dropped_samples_total") == dropped


def test_edge_run_refuses_a_bad_edge_id_before_polling(tmp_path: Path) -> None:
    plant = write_plant(tmp_path, [modbus_device("m-1", 1502)])
    outbox = tmp_path / "never.sqlite"
    result = CliRunner().invoke(
        app, ["edge", "run", "--plant", str(plant), "--edge-id", "Edge-1", "--outbox", str(outbox)]
    )
    assert result.exit_code == 2
    assert "edge id 'Edge-1' is not valid" in result.output and "a-z, 0-9" in result.output
    assert "--edge-id" in result.output
    assert not outbox.exists()  # nothing was stored, nothing polled
