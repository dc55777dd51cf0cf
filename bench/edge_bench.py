"""Edge agent benchmark: N simulated TCP meters × 40 registers at 1 s, then an outbox backlog drain.

Prints polls/s, CPU-seconds per 1,000 polls, p50/p99 poll lateness, RSS, and the drain rate of
a stored backlog while live polling continues. The meters are real pymodbus servers, one port
each, served by `--server-procs` separate processes; the broker is a real Mosquitto.

    .venv/bin/python bench/edge_bench.py                    # 1,000 meters, 30 s, then drain
    .venv/bin/python bench/edge_bench.py --meters 100 --backlog-s 3600   # a 1-hour backlog of 100 meters
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import yaml

from edge.agent import Agent, AgentOptions
from edge.outbox import Outbox
from edge.publish import BrokerConfig
from harness.mosquitto import start_mosquitto
from harness.process import free_port, port_open
from plantcarbon_core.plant import Plant
from plantcarbon_core.profile import encode_raw
from plantcarbon_core.wire import Sample

QUANTITIES = [
    "v_l1_v",
    "v_l2_v",
    "v_l3_v",
    "i_l1_a",
    "i_l2_a",
    "i_l3_a",
    "p_l1_kw",
    "p_l2_kw",
    "p_l3_kw",
    "p_kw",
    "q_kvar",
    "s_kva",
    "pf",
    "f_hz",
    "v_l12_v",
    "v_l23_v",
    "v_l31_v",
    "i_n_a",
    "e_imp_kwh",
    "e_exp_kwh",
]


def write_profile(folder: Path) -> None:
    """A 40-register meter: 20 float32 values at input registers 0..39 (one read per poll)."""
    doc = {
        "id": "bench-40",
        "manufacturer": "plantcarbon",
        "model": "bench meter, 20 float32",
        "manual": {"title": "bench", "version": "1", "table": "synthetic"},
        "table": "input",
        "registers": [{"quantity": q, "address": 2 * i} for i, q in enumerate(QUANTITIES)],
    }
    (folder / "bench-40.yaml").write_text(yaml.safe_dump(doc))


def serve(ports: list[int]) -> None:
    """One process serving a pymodbus TCP server per port, all in one event loop."""
    from pymodbus.framer import FramerType
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    words: list[int] = []
    for i in range(len(QUANTITIES)):
        words += encode_raw(230.0 + i, "float32", "big", "big")

    async def main() -> None:
        servers = []
        for port in ports:
            dev = SimDevice(
                1,
                simdata=(
                    [SimData(0, values=[False], datatype=DataType.BITS)],
                    [SimData(0, values=[False], datatype=DataType.BITS)],
                    [SimData(0, count=1, datatype=DataType.INVALID)],
                    [SimData(0, values=words, datatype=DataType.REGISTERS)],
                ),
            )
            servers.append(ModbusTcpServer([dev], framer=FramerType.SOCKET, address=("127.0.0.1", port)))
        await asyncio.gather(*(s.serve_forever() for s in servers))

    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    asyncio.run(main())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1)))] if s else float("nan")


def plant_for(ports: list[int], interval: float) -> Plant:
    devices = [
        {
            "id": f"m-{i:04d}",
            "name": f"meter {i}",
            "kind": "motor",
            "carrier": "electricity",
            "source": {
                "protocol": "modbus-tcp",
                "host": "127.0.0.1",
                "port": p,
                "profile": "bench-40",
                "interval_s": interval,
                "timeout_s": 2.0,
            },
        }
        for i, p in enumerate(ports)
    ]
    return Plant.model_validate({"site": {"id": "bench", "name": "Bench"}, "devices": devices})


async def measure_polling(agent: Agent, warmup_s: float, run_s: float) -> dict[str, float]:
    await asyncio.sleep(warmup_s)
    m = agent.metrics
    agent.metrics.recent_lateness.clear()
    polls0 = sum(m.value("pc_edge_polls_total", result=r) for r in ("ok", "partial", "failed"))
    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(run_s)
    polls1 = sum(m.value("pc_edge_polls_total", result=r) for r in ("ok", "partial", "failed"))
    cpu1, t1 = time.process_time(), time.monotonic()
    lat = list(agent.metrics.recent_lateness)
    polls = polls1 - polls0
    return {
        "polls_per_s": polls / (t1 - t0),
        "cpu_s_per_1000_polls": (cpu1 - cpu0) / polls * 1000 if polls else float("nan"),
        "cpu_util_pct": (cpu1 - cpu0) / (t1 - t0) * 100,
        "lateness_p50_ms": pct(lat, 0.5) * 1000,
        "lateness_p99_ms": pct(lat, 0.99) * 1000,
        "failed": m.value("pc_edge_polls_total", result="failed"),
        "missed": m.value("pc_edge_missed_polls_total"),
        "rss_mb": rss_mb(),
        "outbox_depth": agent.outbox.depth,
    }


def prefill(path: Path, devices: list[str], per_device: int, start_ms: int) -> int:
    ob = Outbox(path)
    values = {q: 230.0 + i for i, q in enumerate(QUANTITIES)}
    for d in devices:
        ob.add_many(d, [Sample(ts=start_ms + k * 1000, values=values) for k in range(per_device)])
    n = ob.depth
    ob.close()
    return n


async def measure_drain(agent: Agent, backlog: int, timeout_s: float) -> dict[str, float]:
    m = agent.metrics
    t0 = time.monotonic()
    pub0 = m.value("pc_edge_samples_published_total")
    while agent.outbox.depth > 0.001 * backlog + 2 * len(agent.links) and time.monotonic() - t0 < timeout_s:
        await asyncio.sleep(0.2)
    dt = time.monotonic() - t0
    published = m.value("pc_edge_samples_published_total") - pub0
    return {
        "drained_samples": published,
        "drain_s": dt,
        "drain_samples_per_s": published / dt,
        "left": agent.outbox.depth,
    }


async def run(args: argparse.Namespace, ports: list[int], workdir: Path, broker_url: str) -> None:
    plant = plant_for(ports, args.interval)
    opts = dict(summary_s=args.summary_s, profile_dirs=[workdir])
    # 1. Live polling, empty outbox.
    agent = Agent(plant, BrokerConfig(url=broker_url), AgentOptions(outbox=workdir / "live.sqlite", **opts))
    await agent.start()
    live = await measure_polling(agent, args.warmup, args.seconds)
    await agent.stop()
    print(f"\n== polling: {args.meters} meters × 40 registers at {args.interval:g} s, {args.seconds:g} s measured ==")
    for k, v in live.items():
        print(f"  {k:24s} {v:12.2f}")
    # 2. Drain a stored backlog while live polling continues.
    per_device = int(args.backlog_s / args.interval)
    outbox = workdir / "backlog.sqlite"
    t = time.monotonic()
    backlog = prefill(
        outbox, [d.id for d in plant.devices], per_device, int(time.time() * 1000) - int(args.backlog_s * 1000)
    )
    print(
        f"\n== drain: backlog of {backlog} samples ({per_device} per meter, stored in {time.monotonic() - t:.1f} s) =="
    )
    agent = Agent(plant, BrokerConfig(url=broker_url), AgentOptions(outbox=outbox, **opts))
    cpu0 = time.process_time()
    await agent.start()
    drain = await measure_drain(agent, backlog, args.drain_timeout)
    drain["cpu_util_pct"] = (time.process_time() - cpu0) / drain["drain_s"] * 100
    drain["rss_mb"] = rss_mb()
    lat = list(agent.metrics.recent_lateness)
    drain["live_lateness_p99_ms"] = pct(lat, 0.99) * 1000
    drain["live_polls_failed"] = agent.metrics.value("pc_edge_polls_total", result="failed")
    await agent.stop()
    for k, v in drain.items():
        print(f"  {k:24s} {v:12.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=30.0, help="measured polling time")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--backlog-s", type=float, default=300.0, help="outage length whose readings are stored")
    ap.add_argument("--drain-timeout", type=float, default=600.0)
    ap.add_argument("--server-procs", type=int, default=2)
    ap.add_argument("--summary-s", type=float, default=0, help="log a stats line this often (0: off)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO if args.summary_s else logging.WARNING)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    workdir = Path(tempfile.mkdtemp(prefix="pc-edge-bench-"))
    write_profile(workdir)
    ports: list[int] = []
    while len(ports) < args.meters:  # the OS may hand out a port twice
        if (p := free_port()) not in ports:
            ports.append(p)
    chunks = [ports[i :: args.server_procs] for i in range(args.server_procs)]
    procs = [mp.get_context("spawn").Process(target=serve, args=(c,), daemon=True) for c in chunks]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 60
    while not all(port_open("127.0.0.1", p) for p in (ports[0], ports[-1])) and time.monotonic() < deadline:
        time.sleep(0.2)
    broker = start_mosquitto(workdir / "broker")
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    try:
        asyncio.run(run(args, ports, workdir, broker.url))
    finally:
        broker.stop()
        for p in procs:
            p.terminate()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
