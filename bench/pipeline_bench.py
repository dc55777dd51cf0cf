"""Bench: the whole chain — simulated meters → edge → Mosquitto → ingest → InfluxDB — at S, M, L and a backfill.

Every part runs as its own process (harness/stack.py), as in production. Prints one
table per scenario: values/s stored, p50/p99 read-to-written latency (ingest's histogram,
from the edge's read timestamp to InfluxDB acknowledging the write), CPU and peak RSS per
process, and loss (samples the edge committed minus samples stored: must be zero).

    .venv/bin/python bench/pipeline_bench.py --scenario S --seconds 60
    .venv/bin/python bench/pipeline_bench.py --scenario M --seconds 60
    .venv/bin/python bench/pipeline_bench.py --scenario L --seconds 60
    .venv/bin/python bench/pipeline_bench.py --scenario backfill

S: 50 meters at 5 s. M: 250 meters, 25 at 1 s and 225 at 15 s. L: 2,000 meters at 1 s.
Meters are Eastron SDM630s (22 values a poll) behind Modbus TCP gateways of 25 units each.
backfill: one hour of the M plant's readings queued in the broker for ingest's persistent
session while ingest is down (published as history batches), then ingest starts: time to drain.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from harness.influxdb import InfluxDB, start_influxdb
from harness.mosquitto import start_mosquitto
from harness.process import free_port, wait_until
from harness.stack import Stack, scrape_metrics
from plantcarbon_core.influx import influxql
from plantcarbon_core.wire import data_topic, encode_batch
from simulators.history import generate, history_plant_yaml
from simulators.scenario import load_scenario

SCENARIOS: dict[str, list[tuple[int, float]]] = {  # (meters, poll interval s)
    "S": [(50, 5.0)],
    "M": [(25, 1.0), (225, 15.0)],
    "L": [(2000, 1.0)],
}
UNITS_PER_GATEWAY = 25
TICKS = os.sysconf("SC_CLK_TCK")


def scenario_yaml(name: str, groups: list[tuple[int, float]]) -> dict[str, object]:
    devices: list[dict[str, object]] = []
    gateways: list[dict[str, str]] = []
    n = 0
    for count, interval in groups:
        for _ in range(count):
            gw = f"gw-{n // UNITS_PER_GATEWAY:03d}"
            if not gateways or gateways[-1]["id"] != gw:
                gateways.append({"id": gw, "framer": "socket"})
            devices.append(
                {
                    "id": f"m-{n:04d}",
                    "name": f"Motor {n}",
                    "kind": "motor",
                    "carrier": "electricity",
                    "rated": 75 + (n % 7) * 25,
                    "meter": {"profile": "eastron-sdm630", "gateway": gw, "interval_s": interval},
                }
            )
            n += 1
    return {
        "id": f"bench-{name.lower()}",
        "description": f"Pipeline bench {name}: {n} SDM630 meters",
        "site": {
            "id": f"bench-{name.lower()}",
            "name": f"Bench {name}",
            "timezone": "Asia/Shanghai",
            "grid_region": "cn-east",
        },
        "gateways": gateways,
        "devices": devices,
    }


def quantile(m: dict[str, float], name: str, q: float) -> float:
    """Quantile from a Prometheus histogram's cumulative buckets, linearly interpolated."""
    buckets = sorted(
        (float(k.split("le=")[1]), v) for k, v in m.items() if k.startswith(f"{name}_bucket|") and "le=" in k
    )
    total = m.get(f"{name}_count", 0.0)
    if not buckets or total == 0:
        return float("nan")
    want, prev_le, prev_n = q * total, 0.0, 0.0
    for le, n in buckets:
        if n >= want:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * ((want - prev_n) / max(n - prev_n, 1e-9))
        prev_le, prev_n = le, n
    return prev_le


def proc_usage(pid: int) -> tuple[float, float]:
    """CPU seconds (user+sys) and peak RSS in MB of a live process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / TICKS
        hwm = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
        return cpu, int(hwm.split()[1]) / 1024
    except (OSError, StopIteration, IndexError):
        return float("nan"), float("nan")


def stored_samples(target_influx: InfluxDB, stack: Stack) -> int:
    df = influxql(stack.target, 'SELECT count("p_kw") FROM "electricity"', stack.target.raw_bucket, timeout_s=300)
    return 0 if df.empty else int(df["count"].sum())


def wait_stable(fn: object, settle_s: float, timeout_s: float) -> int:
    deadline, last, since = time.monotonic() + timeout_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        n = fn()  # type: ignore[operator]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > settle_s:
            break
        time.sleep(1)
    return last


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows)
    print(f"\n{title}")
    print("-" * (width + 30))
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def run_live(name: str, seconds: float, work: Path) -> None:
    broker = start_mosquitto(work / "mosquitto")
    influx = start_influxdb(work / "influxd")
    stack = Stack(work, broker, influx, influx.target())
    scen = work / "scenario.yaml"
    scen.write_text(yaml.safe_dump(scenario_yaml(name, SCENARIOS[name]), sort_keys=False))
    plant_file = work / "plant.yaml"
    edge_port, ingest_port = free_port(), free_port()
    try:
        sim = stack.spawn(
            "simulators", ["simulate", "run", "--scenario", str(scen), "--plant-out", str(plant_file), "--no-mqtt"]
        )
        wait_until(lambda: plant_file.exists() and plant_file.stat().st_size > 0, 300, "simulators", sim.proc, sim.log)
        time.sleep(1)
        stack.spawn("ingest", ["ingest", "run", "--plant", str(plant_file), "--metrics-port", str(ingest_port)])
        stack.wait_log("ingest", "subscribed")
        edge = stack.spawn(
            "edge",
            [
                "edge",
                "run",
                "--plant",
                str(plant_file),
                "--metrics-port",
                str(edge_port),
                "--outbox",
                str(work / "outbox.sqlite"),
            ],
        )
        wait_until(lambda: bool(scrape_metrics(edge_port)), 60, "edge metrics", edge.proc, edge.log)
        time.sleep(10)  # warm-up: connections made, first polls done
        m0, t0 = scrape_metrics(ingest_port), time.monotonic()
        cpu0 = {n: proc_usage(p.proc.pid)[0] for n, p in stack.parts.items()}
        cpu0["influxd"] = proc_usage(influx.proc.pid)[0] if influx.proc else 0.0
        cpu0["mosquitto"] = proc_usage(broker.proc.pid)[0] if broker.proc else 0.0
        time.sleep(seconds)
        stack.check()
        m1, t1 = scrape_metrics(ingest_port), time.monotonic()
        usage = {n: proc_usage(p.proc.pid) for n, p in stack.parts.items()}
        usage["influxd"] = proc_usage(influx.proc.pid) if influx.proc else (0.0, 0.0)
        usage["mosquitto"] = proc_usage(broker.proc.pid) if broker.proc else (0.0, 0.0)
        em = scrape_metrics(edge_port)
        # Stop the meters, let the edge publish what it holds, then count what was stored.
        stack.stop("simulators")
        wait_until(lambda: scrape_metrics(edge_port).get("pc_edge_outbox_samples", 1) == 0, 300, "edge outbox drained")
        em_end = scrape_metrics(edge_port)
        committed = int(em_end.get("pc_edge_samples_stored_total", 0))
        stored = wait_stable(lambda: stored_samples(influx, stack), settle_s=8, timeout_s=600)
        values = m1.get("ingest_values_total", 0) - m0.get("ingest_values_total", 0)
        dt = t1 - t0
        polls = em.get("pc_edge_polls_total|result=ok", 0)
        lateness = quantile(em, "pc_edge_poll_lateness_seconds", 0.99) * 1000
        dead = sum(v for k, v in m1.items() if k.startswith("ingest_dead_letters_total"))
        groups = SCENARIOS[name]
        rows = [
            ("meters", f"{sum(c for c, _ in groups)} ({', '.join(f'{c} at {i:g} s' for c, i in groups)})"),
            ("measured for", f"{dt:.0f} s after 10 s warm-up"),
            ("values/s stored", f"{values / dt:,.0f}"),
            (
                "edge polls ok (total)",
                f"{polls:,.0f}; lateness p99 {lateness:.0f} ms",
            ),
            ("read→written p50 / p99", _lat(m1)),
        ]
        for n, (cpu, rss) in usage.items():
            rows.append((f"{n}: CPU / peak RSS", f"{(cpu - cpu0.get(n, 0)) / dt * 100:.0f} % of a core / {rss:.0f} MB"))
        rows.append(("loss (committed − stored)", f"{committed - stored} of {committed} samples"))
        rows.append(("edge outbox dropped", f"{em_end.get('pc_edge_outbox_dropped_samples_total', 0):.0f}"))
        rows.append(("ingest dead letters", f"{dead:.0f}"))
        print_table(f"Scenario {name} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores", rows)
    finally:
        stack.stop_all()
        influx.stop()
        broker.stop()


def _lat(m: dict[str, float]) -> str:
    name = next((k.split("_bucket|")[0] for k in m if "latency" in k and "_bucket|" in k), "")
    if not name:
        return "n/a"
    return f"{quantile(m, name, 0.5) * 1000:.0f} ms / {quantile(m, name, 0.99) * 1000:.0f} ms ({name})"


def run_backfill(work: Path) -> None:
    broker = start_mosquitto(work / "mosquitto")
    influx = start_influxdb(work / "influxd")
    stack = Stack(work, broker, influx, influx.target())
    scen = work / "scenario.yaml"
    scen.write_text(yaml.safe_dump(scenario_yaml("M", SCENARIOS["M"]), sort_keys=False))
    scenario = load_scenario(str(scen))
    plant_file = work / "plant.yaml"  # gives ingest each device's carrier, area and kind tags
    plant_file.write_text(history_plant_yaml(scenario))
    ingest_args = ["ingest", "run", "--plant", str(plant_file), "--client-id", "ingest-backfill"]
    ingest_port = free_port()
    try:
        # Create ingest's persistent session, then take ingest down.
        stack.spawn("ingest", [*ingest_args, "--metrics-port", str(ingest_port)])
        stack.wait_log("ingest", "subscribed")
        stack.stop("ingest")
        end = datetime.now(UTC).replace(microsecond=0)
        start = end - timedelta(hours=1)
        t_gen = time.monotonic()
        # One hour at each meter's own interval: 25 meters every 1 s, 225 every 15 s.
        fast = generate(_subset(scenario, 25, 0), start, end, step_s=1.0)
        slow = generate(_subset(scenario, 225, 25), start, end, step_s=15.0)
        batches = [*fast.batches(samples_per_batch=60), *slow.batches(samples_per_batch=60)]
        n_samples = sum(len(b.samples) for b in batches)
        n_values = sum(len(s.values) for b in batches for s in b.samples)
        gen_s = time.monotonic() - t_gen
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="backfill-edge", protocol=mqtt.MQTTv5)
        pub.max_inflight_messages_set(1000)
        pub.connect(broker.host, broker.port)
        pub.loop_start()
        infos = [pub.publish(data_topic(scenario.site.id, b.device), encode_batch(b), qos=1) for b in batches]
        for info in infos:
            info.wait_for_publish(120)
        pub.disconnect()
        pub.loop_stop()
        t0 = time.monotonic()
        stack.spawn("ingest", [*ingest_args, "--metrics-port", str(ingest_port)])

        def stored() -> int:
            return stored_samples(influx, stack)

        wait_until(lambda: stored() >= n_samples, 1800, "backlog drained")
        drain = time.monotonic() - t0
        ingest_cpu, ingest_rss = proc_usage(stack.parts["ingest"].proc.pid)
        influx_cpu, influx_rss = proc_usage(influx.proc.pid) if influx.proc else (0.0, 0.0)
        final = wait_stable(stored, settle_s=5, timeout_s=60)
        rows = [
            ("backlog", f"1 h of 250 meters: {len(batches):,} batches, {n_samples:,} samples, {n_values:,} values"),
            ("generated in", f"{gen_s:.0f} s (not counted)"),
            ("drained (ingest start → all queryable)", f"{drain:.1f} s"),
            ("values/s while draining", f"{n_values / drain:,.0f}"),
            ("ingest CPU / peak RSS", f"{ingest_cpu:.0f} s / {ingest_rss:.0f} MB"),
            ("influxd CPU / peak RSS", f"{influx_cpu:.0f} s / {influx_rss:.0f} MB"),
            ("loss (published − stored)", f"{n_samples - final} of {n_samples} samples"),
        ]
        print_table(f"Backfill — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores", rows)
    finally:
        stack.stop_all()
        influx.stop()
        broker.stop()


def _subset(scenario, count: int, offset: int):  # type: ignore[no-untyped-def]
    return scenario.model_copy(update={"devices": scenario.devices[offset : offset + count]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--scenario", choices=["S", "M", "L", "backfill"], required=True)
    ap.add_argument("--seconds", type=float, default=60.0, help="measured live seconds (S, M, L)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"pc-bench-{args.scenario}-") as tmp:
        if args.scenario == "backfill":
            run_backfill(Path(tmp))
        else:
            run_live(args.scenario, args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
