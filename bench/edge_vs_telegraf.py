"""plantcarbon's edge against Telegraf (inputs.modbus → outputs.mqtt) on the same meters, one after the other.

The same N simulated Modbus TCP meters (40 input registers = 20 float32 values, one read per
poll, every second; real pymodbus servers, one port each, served by `--server-procs`
processes) are polled, decoded and published to the same Mosquitto first by
`plantcarbon edge run` and then by Telegraf v1.37.2 built from its Go module with only
`inputs.modbus` and `outputs.mqtt` (cached in ~/.cache/plantcarbon/bin like influxd; never part
of `make test`). A subscriber in this process counts what reaches the broker. Per tool:

- polls/s: samples delivered whose read time falls in the measured window, per second
- CPU-s per 1,000 polls: user + system time of the tool's processes alone (/proc) over the window
- peak RSS: VmHWM of the tool's processes (summed when the edge runs several)
- values/s delivered, read→MQTT latency p50/p99 (read time stamped by the tool → arrival here)
- poll lateness p50/p99: the edge's own histogram; Telegraf's read time minus its aligned tick
- wrong values (≠ what the meter serves) and missing values (missed polls — holes of ≥ 1.5 s
  between a meter's consecutive read times — × 20, plus fields absent from a delivered sample)

    .venv/bin/python bench/edge_vs_telegraf.py                        # 200 and 1,000 meters, 40 s each
    .venv/bin/python bench/edge_vs_telegraf.py --meters 1000 --seconds 30 --tools edge
    .venv/bin/python bench/edge_vs_telegraf.py --edge-procs 2          # the edge as two processes
    .venv/bin/python bench/edge_vs_telegraf.py --profile /tmp/edge.prof  # cProfile the edge run
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from harness.influxdb import CACHE_DIR
from harness.mosquitto import start_mosquitto
from harness.process import free_port, port_open
from plantcarbon_core.profile import encode_raw
from plantcarbon_core.wire import WireError, decode_batch

TELEGRAF_VERSION = "1.37.2"
TELEGRAF_MODULE = "github.com/influxdata/telegraf/cmd/telegraf"
TELEGRAF_TAGS = "custom,inputs.modbus,outputs.mqtt"
QUANTITIES = [
    "v_l1_v", "v_l2_v", "v_l3_v", "i_l1_a", "i_l2_a", "i_l3_a", "p_l1_kw", "p_l2_kw", "p_l3_kw", "p_kw",
    "q_kvar", "s_kva", "pf", "f_hz", "v_l12_v", "v_l23_v", "v_l31_v", "i_n_a", "e_imp_kwh", "e_exp_kwh",
]  # fmt: skip
SITE = "bench"
DRAIN_S = 3.0  # after the window: let what was read inside it reach the subscriber


def truth(meter: int, i: int) -> float:
    """What meter `meter` serves for quantity `i`: distinct per meter, exact in float32."""
    return 100.0 + i + 0.25 * (meter % 1000)


# --- Telegraf ---------------------------------------------------------------------------


def telegraf_binary() -> Path:
    return CACHE_DIR / "bin" / f"telegraf-{TELEGRAF_VERSION}"


def ensure_telegraf() -> Path:
    """Build Telegraf with only the two plugins the bench needs, once; cached outside the repo."""
    target = telegraf_binary()
    if target.exists():
        return target
    if shutil.which("go") is None:
        sys.exit("Telegraf is not built yet and `go` is not on PATH (https://go.dev/dl/)")
    build = CACHE_DIR / "build" / f"telegraf-{TELEGRAF_VERSION}"
    build.mkdir(parents=True, exist_ok=True)
    print(f"building Telegraf {TELEGRAF_VERSION} with -tags {TELEGRAF_TAGS} (once, a few minutes) ...", flush=True)
    env = {**os.environ, "GOBIN": str(build), "GOFLAGS": "-mod=mod"}
    subprocess.run(
        ["nice", "-n", "10", "go", "install", "-tags", TELEGRAF_TAGS, f"{TELEGRAF_MODULE}@v{TELEGRAF_VERSION}"],
        env=env,
        check=True,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(build / "telegraf"), target)
    return target


def telegraf_config(ports: list[int], broker_port: int, logfile: Path) -> str:
    """One `inputs.modbus` per meter (one TCP connection each, like the edge's one link per endpoint)."""
    fields = ",\n".join(f'      {{ address={2 * i}, name="{q}", type="FLOAT32" }}' for i, q in enumerate(QUANTITIES))
    parts = [
        f"""[agent]
  interval = "1s"
  round_interval = true
  collection_jitter = "0s"
  flush_interval = "1s"
  flush_jitter = "0s"
  metric_batch_size = 1000
  metric_buffer_limit = 200000
  omit_hostname = true
  precision = "1ms"  # read times as read, not rounded to the interval
  quiet = true
  logfile = "{logfile}"

[[outputs.mqtt]]
  servers = ["127.0.0.1:{broker_port}"]
  topic = 'tg/{{{{ .Tag "device" }}}}'
  qos = 1
  keep_alive = 30
  layout = "non-batch"
  data_format = "influx"
"""
    ]
    for m, port in enumerate(ports):
        parts.append(
            f"""
[[inputs.modbus]]
  name = "m-{m:04d}"
  controller = "tcp://127.0.0.1:{port}"
  configuration_type = "request"
  timeout = "2s"
  busy_retries = 0
  [[inputs.modbus.request]]
    slave_id = 1
    byte_order = "ABCD"
    register = "input"
    measurement = "meter"
    fields = [
{fields}
    ]
    [inputs.modbus.request.tags]
      device = "m-{m:04d}"
"""
        )
    return "".join(parts)


def parse_line(line: str) -> tuple[str, int, dict[str, float]]:
    """One influx line (`meter,device=m-0001,… f=1,… ns`) → (device, epoch ms, fields)."""
    head, fieldset, ts = line.rsplit(" ", 2)
    tags = dict(t.split("=", 1) for t in head.split(",")[1:])
    values = {k: float(v.rstrip("i")) for k, v in (f.split("=", 1) for f in fieldset.split(","))}
    return tags["device"], int(ts) // 1_000_000, values


# --- meters -----------------------------------------------------------------------------


def serve(ports: list[tuple[int, int]]) -> None:
    """One process serving a pymodbus TCP server per (meter, port), all in one event loop."""
    import asyncio

    from pymodbus.framer import FramerType
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    async def main() -> None:
        servers = []
        for meter, port in ports:
            words: list[int] = []
            for i in range(len(QUANTITIES)):
                words += encode_raw(truth(meter, i), "float32", "big", "big")
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

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(main())


def write_edge_files(workdir: Path, ports: list[int]) -> Path:
    """The profile (20 float32 at input registers 0..39) and the plant file with every meter."""
    profiles = workdir / "profiles"
    profiles.mkdir(exist_ok=True)
    doc = {
        "id": "bench-40",
        "manufacturer": "plantcarbon",
        "model": "bench meter, 20 float32",
        "manual": {"title": "bench", "version": "1", "table": "synthetic"},
        "table": "input",
        "registers": [{"quantity": q, "address": 2 * i} for i, q in enumerate(QUANTITIES)],
    }
    (profiles / "bench-40.yaml").write_text(yaml.safe_dump(doc))
    devices = [
        {
            "id": f"m-{m:04d}",
            "name": f"meter {m}",
            "kind": "motor",
            "carrier": "electricity",
            "source": {
                "protocol": "modbus-tcp",
                "host": "127.0.0.1",
                "port": port,
                "profile": "bench-40",
                "interval_s": 1.0,
                "timeout_s": 2.0,
            },
        }
        for m, port in enumerate(ports)
    ]
    plant = workdir / "plant.yaml"
    plant.write_text(yaml.safe_dump({"site": {"id": SITE, "name": "Bench"}, "devices": devices}))
    return plant


# --- measuring --------------------------------------------------------------------------


@dataclass
class Subscriber:
    """Keeps (arrival time, topic, payload) of everything on the tools' topics; parsed afterwards."""

    port: int
    got: list[tuple[float, str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}")
        self.c.on_message = lambda _c, _u, m: self.got.append((time.time(), m.topic, m.payload))
        ready = threading.Event()
        self.c.on_subscribe = lambda *a: ready.set()
        self.c.connect("127.0.0.1", self.port)
        self.c.loop_start()
        self.c.subscribe([(f"pc/{SITE}/+/data", 1), ("tg/#", 1)])
        assert ready.wait(10), "subscriber not subscribed"

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def tree(pids: list[int]) -> list[int]:
    """The processes and all their descendants."""
    seen: list[int] = []
    todo = list(pids)
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def cpu_s(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / tick
        except OSError:
            continue
    return total


def peak_rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1)))] if s else math.nan


def histogram(url: str, name: str) -> list[tuple[float, float]]:
    """Cumulative buckets (le, count) of a Prometheus histogram."""
    out = []
    for line in httpx.get(url, timeout=5).text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((math.inf if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    return out


def merged(histograms: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    return [(le, sum(h[i][1] for h in histograms)) for i, (le, _) in enumerate(histograms[0])]


def hist_quantile(before: list[tuple[float, float]], after: list[tuple[float, float]], q: float) -> float:
    """Quantile of the observations between two scrapes, interpolated in the bucket (as Prometheus does)."""
    buckets = [(le, a - b) for (le, a), (_, b) in zip(after, before, strict=True)]
    total = buckets[-1][1] if buckets else 0
    if not total:
        return math.nan
    rank, lo, prev = q * total, 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if math.isinf(le):
                return lo
            return lo + (le - lo) * (rank - prev) / max(c - prev, 1e-9)
        lo, prev = le, c
    return lo


@dataclass
class Result:
    tool: str
    meters: int
    window_s: float
    cpu_s: float
    rss_mb: float
    samples: int = 0
    values: int = 0
    wrong: int = 0
    missing: int = 0
    latencies: list[float] = field(default_factory=list)
    lateness_p50_ms: float = math.nan
    lateness_p99_ms: float = math.nan

    @property
    def polls_per_s(self) -> float:
        return self.samples / self.window_s

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / self.samples * 1000 if self.samples else math.nan


def tally(res: Result, got: list[tuple[float, str, bytes]], t0: float, t1: float, meters: int) -> Result:
    """Count what arrived for reads inside [t0, t1): latency, wrong and missing values."""
    lo_ms, hi_ms = int(t0 * 1000), int(t1 * 1000)
    reads: dict[str, list[int]] = {}
    for arrival, topic, payload in got:
        rows: list[tuple[str, int, dict[str, float]]] = []
        if topic.startswith("tg/"):
            rows = [parse_line(ln) for ln in payload.decode().splitlines() if ln]
        else:
            try:
                b = decode_batch(payload)
            except WireError:
                res.wrong += len(QUANTITIES)
                continue
            rows = [(b.device, s.ts, s.values) for s in b.samples]
        for device, ts, values in rows:
            if not lo_ms <= ts < hi_ms:
                continue
            m = int(device.split("-")[1])
            res.samples += 1
            res.values += len(values)
            res.latencies.append(arrival * 1000 - ts)
            reads.setdefault(device, []).append(ts)
            res.missing += len(QUANTITIES) - len(values)
            res.wrong += sum(1 for i, q in enumerate(QUANTITIES) if q in values and values[q] != truth(m, i))
    # A missed poll is a hole in a device's read times: consecutive reads ≥ 1.5 intervals apart
    # (the tools schedule differently — Telegraf on the second, the edge staggered — so whole
    # seconds are not the unit); a device with no read in the window missed all of them.
    for m in range(meters):
        ts = sorted(set(reads.get(f"m-{m:04d}", [])))
        if not ts:
            res.missing += int((hi_ms - lo_ms) / 1000) * len(QUANTITIES)
            continue
        holes = sum(round((b - a) / 1000) - 1 for a, b in itertools.pairwise(ts) if b - a >= 1500)
        res.missing += holes * len(QUANTITIES)
    return res


def consecutive_free_ports(n: int) -> int:
    """A port p with p .. p+n-1 all free (bound once to be sure), for the edge processes' metrics."""
    while True:
        base, held = free_port(), []
        try:
            for i in range(n):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()


def run_edge(args: argparse.Namespace, ports: list[int], broker_port: int, workdir: Path) -> Result:
    """`plantcarbon edge run`, as one process or as `--processes N` (one outbox per process)."""
    plant = write_edge_files(workdir, ports)
    n = args.edge_procs
    base = consecutive_free_ports(n)
    env = {
        **os.environ,
        "PLANTCARBON_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
        "PLANTCARBON_EDGE_SUMMARY_S": "0",
        "PLANTCARBON_EDGE_PROFILE_DIRS": json.dumps([str(workdir / "profiles")]),
        "PLANTCARBON_DATA_DIR": str(workdir / "data"),
    }
    cmd = [sys.executable]
    if args.profile:
        script = str(Path(sys.executable).with_name("plantcarbon"))
        cmd += ["-m", "cProfile", "-o", f"{args.profile}.{len(ports)}", script]
    else:
        cmd += ["-m", "plantcarbon"]
    cmd += ["edge", "run", "--plant", str(plant), "--edge-id", "bench", "--log-level", "WARNING"]
    cmd += ["--metrics-port", str(base), "--processes", str(n)]
    log = (workdir / "edge.log").open("ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    metrics = [f"http://127.0.0.1:{base + i}/metrics" for i in range(n)]
    return measure("edge" if n == 1 else f"edge, {n} processes", [proc], args, len(ports), metrics)


def run_telegraf(args: argparse.Namespace, ports: list[int], broker_port: int, workdir: Path) -> Result:
    conf = workdir / "telegraf.conf"
    conf.write_text(telegraf_config(ports, broker_port, workdir / "telegraf.log"))
    proc = subprocess.Popen(
        [str(ensure_telegraf()), "--config", str(conf)],
        stdout=(workdir / "telegraf.out").open("ab"),
        stderr=subprocess.STDOUT,
    )
    return measure("Telegraf", [proc], args, len(ports), [])


def measure(
    tool: str, procs: list[subprocess.Popen[bytes]], args: argparse.Namespace, meters: int, metrics: list[str]
) -> Result:
    sub = Subscriber(args.broker_port)
    try:
        deadline = time.monotonic() + 120
        while metrics and not all(_up(u) for u in metrics) and time.monotonic() < deadline:
            time.sleep(0.5)  # the edge has started (slower under --profile)
        time.sleep(args.warmup)
        for p in procs:
            if p.poll() is not None:
                sys.exit(f"{tool} exited with {p.returncode}; see its log in {args.workdir}")
        pids = tree([p.pid for p in procs])
        h0 = [histogram(u, "pc_edge_poll_lateness_seconds") for u in metrics]
        c0, t0 = cpu_s(pids), time.time()
        time.sleep(args.seconds)
        c1, t1 = cpu_s(pids), time.time()
        h1 = [histogram(u, "pc_edge_poll_lateness_seconds") for u in metrics]
        rss = peak_rss_mb(pids)
        time.sleep(DRAIN_S)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        sub.close()
    res = tally(Result(tool, meters, t1 - t0, c1 - c0, rss), sub.got, t0, t1, meters)
    if metrics:
        before, after = merged(h0), merged(h1)  # one histogram over the edge's processes
        res.lateness_p50_ms = hist_quantile(before, after, 0.5) * 1000
        res.lateness_p99_ms = hist_quantile(before, after, 0.99) * 1000
    else:  # Telegraf gathers every input at the aligned tick (round_interval): read time − tick
        late = [(ts_ms % 1000) for ts_ms in _read_times(sub.got, t0, t1)]
        res.lateness_p50_ms, res.lateness_p99_ms = pct(late, 0.5), pct(late, 0.99)
    return res


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _read_times(got: list[tuple[float, str, bytes]], t0: float, t1: float) -> list[int]:
    out = []
    for _, topic, payload in got:
        if topic.startswith("tg/"):
            for ln in payload.decode().splitlines():
                ts = int(ln.rsplit(" ", 1)[1]) // 1_000_000
                if t0 * 1000 <= ts < t1 * 1000:
                    out.append(ts)
    return out


def print_table(results: list[Result]) -> None:
    head = (
        "| meters | tool | polls/s | CPU-s per 1,000 polls | peak RSS | values/s to MQTT | read→MQTT p50 / p99 "
        "| lateness p50 / p99 | wrong / missing values |"
    )
    print("\n" + head)
    print("|" + "---|" * 9)
    for r in results:
        print(
            f"| {r.meters:,} | {r.tool} | {r.polls_per_s:,.0f} | {r.cpu_per_1000:.3f} | {r.rss_mb:.0f} MB "
            f"| {r.values / r.window_s:,.0f} | {pct(r.latencies, 0.5):.0f} / {pct(r.latencies, 0.99):.0f} ms "
            f"| {r.lateness_p50_ms:.0f} / {r.lateness_p99_ms:.0f} ms | {r.wrong} / {r.missing} |"
        )
    by_n: dict[int, dict[str, Result]] = {}
    for r in results:
        by_n.setdefault(r.meters, {})[r.tool] = r
    for n, tools in by_n.items():
        tg = tools.get("Telegraf")
        for name, r in tools.items():
            if tg is not None and r is not tg:
                print(
                    f"{n:,} meters: {name} / Telegraf CPU per poll = {r.cpu_per_1000 / tg.cpu_per_1000:.2f}×, "
                    f"peak RSS {r.rss_mb / tg.rss_mb:.2f}×"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meters", type=int, nargs="+", default=[200, 1000])
    ap.add_argument("--seconds", type=float, default=40.0, help="measured window per tool")
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--tools", nargs="+", default=["edge", "telegraf"], choices=["edge", "telegraf"])
    ap.add_argument("--edge-procs", type=int, default=1, help="edge processes, each with a share of the meters")
    ap.add_argument("--server-procs", type=int, default=2)
    ap.add_argument("--profile", help="cProfile the edge into PROFILE.<meters>.<process>")
    args = ap.parse_args()
    if "telegraf" in args.tools:
        ensure_telegraf()
    results: list[Result] = []
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}", flush=True)
    for n in args.meters:
        workdir = Path(tempfile.mkdtemp(prefix=f"pc-edge-vs-telegraf-{n}-"))
        args.workdir = workdir
        ports: list[int] = []
        while len(ports) < n:  # the OS may hand out a port twice
            if (p := free_port()) not in ports:
                ports.append(p)
        meters = list(enumerate(ports))
        chunks = [meters[i :: args.server_procs] for i in range(args.server_procs)]
        servers = [mp.get_context("spawn").Process(target=serve, args=(c,), daemon=True) for c in chunks]
        for s in servers:
            s.start()
        deadline = time.monotonic() + 120
        while not all(port_open("127.0.0.1", p) for p in ports) and time.monotonic() < deadline:
            if not all(s.is_alive() for s in servers):
                break
            time.sleep(0.5)
        if not all(s.is_alive() for s in servers) or not all(port_open("127.0.0.1", p) for p in ports):
            # A server process that died (e.g. a port taken by another program meanwhile) would
            # show as half the meters missing: no figures from such a run.
            for s in servers:
                s.terminate()
            raise SystemExit(f"{n} meters: a meter server process did not start; run again")
        broker = start_mosquitto(workdir / "broker")
        args.broker_port = broker.port
        try:
            for tool in args.tools:
                run = run_edge if tool == "edge" else run_telegraf
                r = run(args, ports, broker.port, workdir)
                results.append(r)
                print(
                    f"{n} meters, {r.tool}: {r.polls_per_s:.0f} polls/s, {r.cpu_per_1000:.3f} CPU-s/1,000 polls, "
                    f"{r.rss_mb:.0f} MB, wrong/missing {r.wrong}/{r.missing}",
                    flush=True,
                )
        finally:
            broker.stop()
            for s in servers:
                s.terminate()
    print_table(results)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
