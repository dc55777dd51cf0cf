"""Ingest benchmark: sustained field values/s broker → queryable in InfluxDB, latency, CPU, backlog drain.

Starts its own Mosquitto and InfluxDB (harness) and runs `plantcarbon ingest run` as a
real process. Two scenarios:

  sustained  publish 40-field samples at --rate values/s for --duration s, batched as the
             edge sends them (--samples-per-batch per message, one message per meter per
             poll); report stored values/s, p50/p99 latency from sample timestamp to
             queryable (probed every 100 ms with InfluxQL), CPU s per 100k values of ingest,
             influxd and mosquitto.
  backlog    ingest stopped, the broker queues one hour of --meters meters polled every
             --poll-s s; ingest started; report the time until every value is queryable.

    .venv/bin/python bench/ingest_bench.py sustained --rate 100000 --duration 30
    .venv/bin/python bench/ingest_bench.py backlog --meters 250 --poll-s 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from harness.influxdb import InfluxDB, start_influxdb
from harness.mosquitto import Mosquitto, start_mosquitto
from harness.process import free_port
from plantcarbon_core.influx import InfluxTarget, influxql
from plantcarbon_core.mqtt import parse_mqtt_url
from plantcarbon_core.wire import data_topic

SITE = "bench"
METRICS_PORT0 = free_port()
FIELDS = 40
ROOT = Path(__file__).resolve().parents[1]


def clk_tck() -> int:
    return os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clk_tck()


def ingest_stats(n: int) -> str:
    """Write count, time and retries from an ingest process's Prometheus metrics."""
    try:
        text = httpx.get(f"http://127.0.0.1:{METRICS_PORT0 + n}/metrics", timeout=5).text
    except httpx.HTTPError:
        return "metrics unavailable"
    vals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("ingest_write_seconds_count", "ingest_write_seconds_sum", "ingest_write_retries_total")):
            key = line.split(" ")[0].split("{")[0]
            vals[key] = vals.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    n_w = vals.get("ingest_write_seconds_count", 0)
    s_w = vals.get("ingest_write_seconds_sum", 0)
    retries = vals.get("ingest_write_retries_total", 0)
    return f"{n_w:.0f} writes, {s_w:.1f} s writing (mean {s_w / max(n_w, 1):.2f} s), {retries:.0f} retries"


def cpu_all(procs: list[tuple[str, subprocess.Popen[bytes] | None]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, p in procs:
        if p is not None:
            out[name] = out.get(name, 0.0) + cpu_s(p.pid)
    return out


def write_plant(path: Path, meters: int) -> None:
    lines = [f"site: {{id: {SITE}, name: Bench}}", "devices:"]
    for i in range(meters):
        lines.append(f"  - {{id: m-{i:03d}, name: M{i}, kind: feeder, carrier: electricity, area: a{i % 5}}}")
    path.write_text("\n".join(lines) + "\n")


class Payloads:
    """Reading batches built from a string template: the publisher must not be the bottleneck."""

    def __init__(self) -> None:
        self.values = [
            "{" + ",".join(f'"q{k:02d}_kw":{(k * 37.5 + v * 0.01):.3f}' for k in range(FIELDS)) + "}" for v in range(16)
        ]

    def batch(self, device: str, seq: int, ts_list: list[int]) -> bytes:
        samples = ",".join(f'{{"ts":{ts},"values":{self.values[(ts // 1000) % 16]}}}' for ts in ts_list)
        return (
            f'{{"schema":"pc.readings/1","edge":"edge-b","device":"{device}","seq":{seq},"samples":[{samples}]}}'
        ).encode()


def publisher(url: str) -> mqtt.Client:
    host, port, _ = parse_mqtt_url(url)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(2000)
    c.max_queued_messages_set(0)
    c.connect(host, port)
    c.loop_start()
    return c


def start_ingest(url: str, target: InfluxTarget, plant: Path, workdir: Path, n: int = 0) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PLANTCARBON_MQTT_URL": url,
        "PLANTCARBON_INFLUX_URL": target.url,
        "PLANTCARBON_INFLUX_ORG": target.org,
        "PLANTCARBON_INFLUX_TOKEN": target.token,
        "PLANTCARBON_INFLUX_RAW_BUCKET": target.raw_bucket,
        "PLANTCARBON_DATA_DIR": str(workdir),
    }
    log = workdir / f"ingest-{n}.log"
    cmd = [sys.executable, "-m", "plantcarbon", "ingest", "run", "--plant", str(plant)]
    cmd += ["--client-id", f"ingest-bench-{n}"]
    cmd += ["--metrics-port", str(METRICS_PORT0 + n), "--log-level", "WARNING"]
    with log.open("ab") as f:
        return subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)


def count_values(target: InfluxTarget) -> int:
    df = influxql(target, 'SELECT count("q00_kw") FROM "electricity"', timeout_s=120)
    return 0 if df.empty else int(df["count"].iloc[0]) * FIELDS


def probe_ready(pub: mqtt.Client, payloads: Payloads, target: InfluxTarget, timeout_s: float = 60) -> None:
    """Publish one marker batch until it is stored: ingest is subscribed and writing."""
    ts = 946_684_800_000 + 1000
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pub.publish(data_topic(SITE, "m-000"), payloads.batch("m-000", 0, [ts]), qos=1)
        t_end = time.monotonic() + 3
        while time.monotonic() < t_end:
            df = influxql(target, f'SELECT count("q00_kw") FROM "electricity" WHERE time = {ts}ms')
            if not df.empty:
                return
            time.sleep(0.2)
    raise TimeoutError("ingest never stored the probe batch")


def services(workdir: Path) -> tuple[Mosquitto, InfluxDB, InfluxTarget]:
    broker = start_mosquitto(workdir / "mosquitto")
    influx = start_influxdb(workdir / "influxd")
    return broker, influx, influx.fresh_target()


def sustained(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="pc-bench-"))
    broker, influx, target = services(work)
    plant = work / "plant.yaml"
    meters = args.meters
    write_plant(plant, meters)
    ingests = [start_ingest(broker.url, target, plant, work, n) for n in range(args.processes)]
    pub = publisher(broker.url)
    payloads = Payloads()
    try:
        probe_ready(pub, payloads, target)
        base_values = count_values(target)
        spb = args.samples_per_batch
        msgs_per_s = args.rate / FIELDS / spb
        # Every meter is polled every poll_s and sends a message every spb polls.
        poll_s = meters / (args.rate / FIELDS)
        poll_ms = max(1, round(poll_s * 1000))
        print(
            f"offered: {args.rate:,.0f} values/s = {meters} meters × {FIELDS} fields every {poll_s:.3f} s, "
            f"{spb} sample(s)/message, {msgs_per_s:,.0f} messages/s for {args.duration:.0f} s, "
            f"{args.processes} ingest process(es)",
            flush=True,
        )
        probe_ts: list[int] = []
        latencies: list[float] = []
        stop = threading.Event()

        def prober() -> None:
            pending: list[int] = []
            while not stop.is_set() or pending:
                pending.extend(probe_ts[len(pending) + len(latencies) :])
                if pending:
                    df = influxql(
                        target, 'SELECT last("q00_kw") FROM "electricity" WHERE device = \'m-000\'', timeout_s=30
                    )
                    if not df.empty:
                        last = int(df["time"].iloc[0].value // 10**6)
                        now = time.time() * 1000
                        while pending and pending[0] <= last:
                            latencies.append((now - pending.pop(0)) / 1000)
                time.sleep(0.1)
                if stop.is_set() and time.monotonic() > stop_deadline:
                    break

        stop_deadline = float("inf")
        t = threading.Thread(target=prober, daemon=True)
        t.start()
        procs = [*(("ingest", p) for p in ingests), ("influxd", influx.proc), ("mosquitto", broker.proc)]
        cpu0 = cpu_all(procs)
        cpu0["bench (publisher, prober)"] = time.process_time()
        t0 = time.monotonic()
        start_ms = int(time.time() * 1000)
        seq = 0
        sent_values = 0
        tick = 0.1
        next_tick = t0
        device_i = 0
        carry = 0.0
        while time.monotonic() - t0 < args.duration:
            carry += msgs_per_s * tick
            n = int(carry)
            carry -= n
            for _ in range(n):
                dev = f"m-{device_i:03d}"
                if device_i == 0:
                    seq += 1
                # The meter's own sample clock: distinct timestamps, spb polls per message.
                tss = [start_ms + ((seq - 1) * spb + k) * poll_ms for k in range(spb)]
                pub.publish(data_topic(SITE, dev), payloads.batch(dev, seq, tss), qos=1)
                if device_i == 0:
                    probe_ts.append(tss[-1])
                sent_values += spb * FIELDS
                device_i = (device_i + 1) % meters
            next_tick += tick
            time.sleep(max(0.0, next_tick - time.monotonic()))
        t_pub = time.monotonic() - t0
        # Wait until everything is queryable.
        want = base_values + sent_values
        while count_values(target) < want and time.monotonic() - t0 < args.duration + 300:
            time.sleep(0.5)
        t_all = time.monotonic() - t0
        cpu1 = cpu_all(procs)
        cpu1["bench (publisher, prober)"] = time.process_time()
        stop_deadline = time.monotonic() + 10
        stop.set()
        t.join(15)
        stored = count_values(target) - base_values
        print(f"published {sent_values:,} values in {t_pub:.1f} s ({sent_values / t_pub:,.0f} values/s offered)")
        print(
            f"stored    {stored:,} values; all queryable after {t_all:.1f} s → sustained {stored / t_all:,.0f} values/s"
        )
        if latencies:
            q = statistics.quantiles(latencies, n=100)
            print(f"latency sample ts → queryable: p50 {q[49]:.2f} s, p99 {q[98]:.2f} s ({len(latencies)} probes)")
        per100k = {n: (cpu1[n] - cpu0[n]) / (stored / 100_000) for n in cpu0} if stored else {}
        print("CPU s per 100k values: " + ", ".join(f"{n} {v:.3f}" for n, v in per100k.items()))
        for n in range(args.processes):
            print(f"ingest {n}: {ingest_stats(n)}")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machine)")
    finally:
        pub.disconnect()
        pub.loop_stop()
        for p in ingests:
            p.terminate()
            p.wait(30)
        broker.stop()
        influx.stop()
        shutil.rmtree(work, ignore_errors=True)


def backlog(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="pc-bench-"))
    broker, influx, target = services(work)
    plant = work / "plant.yaml"
    write_plant(plant, args.meters)
    ingest = start_ingest(broker.url, target, plant, work)
    pub = publisher(broker.url)
    payloads = Payloads()
    try:
        probe_ready(pub, payloads, target)  # the session and its subscription exist
        ingest.terminate()
        ingest.wait(30)
        base = count_values(target)
        poll_ms = int(args.poll_s * 1000)
        polls = int(3600 / args.poll_s)
        spb = args.samples_per_batch
        end_ms = int(time.time() * 1000)
        start_ms = end_ms - polls * poll_ms
        t0 = time.monotonic()
        sent = 0
        infos = []
        for seq, p0 in enumerate(range(0, polls, spb), start=1):
            tss = [start_ms + (p0 + k) * poll_ms for k in range(min(spb, polls - p0))]
            for i in range(args.meters):
                dev = f"m-{i:03d}"
                infos.append(pub.publish(data_topic(SITE, dev), payloads.batch(dev, seq, tss), qos=1))
                sent += len(tss) * FIELDS
            if len(infos) > 5000:
                for info in infos:
                    info.wait_for_publish(60)
                infos.clear()
        for info in infos:
            info.wait_for_publish(60)
        print(
            f"queued at the broker: one hour of {args.meters} meters × {FIELDS} fields every {args.poll_s} s "
            f"({spb} sample(s)/message) = {sent:,} values in {polls // spb * args.meters:,} messages "
            f"(publishing took {time.monotonic() - t0:.0f} s)",
            flush=True,
        )
        ingest = start_ingest(broker.url, target, plant, work)
        t1 = time.monotonic()
        cpu0 = cpu_s(ingest.pid)
        last_print = t1
        while count_values(target) - base < sent:
            if time.monotonic() - t1 > args.timeout:
                print(f"NOT drained after {args.timeout:.0f} s: {count_values(target) - base:,} of {sent:,}")
                return
            if time.monotonic() - last_print > 15:
                last_print = time.monotonic()
                print(f"  … {count_values(target) - base:,} of {sent:,} after {last_print - t1:.0f} s", flush=True)
            time.sleep(1)
        dt = time.monotonic() - t1
        cpu = cpu_s(ingest.pid) - cpu0
        print(f"drained {sent:,} values in {dt:.1f} s ({sent / dt:,.0f} values/s); ingest CPU {cpu:.1f} s")
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared machine)")
    finally:
        pub.disconnect()
        pub.loop_stop()
        ingest.terminate()
        ingest.wait(30)
        broker.stop()
        influx.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="scenario", required=True)
    s = sub.add_parser("sustained")
    s.add_argument("--rate", type=float, default=100_000, help="offered field values per second")
    s.add_argument("--duration", type=float, default=30)
    s.add_argument("--meters", type=int, default=250)
    s.add_argument("--samples-per-batch", type=int, default=1)
    s.add_argument("--processes", type=int, default=1, help="ingest processes on the shared subscription")
    b = sub.add_parser("backlog")
    b.add_argument("--meters", type=int, default=250)
    b.add_argument("--poll-s", type=float, default=5.0)
    b.add_argument("--samples-per-batch", type=int, default=1)
    b.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    # SIGTERM runs the `finally` blocks, which stop the servers and ingest processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sustained(args) if args.scenario == "sustained" else backlog(args)


if __name__ == "__main__":
    main()
