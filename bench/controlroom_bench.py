"""Bench: the control room on the cement plant — seeding time, API p50/p99 on a year of data, time to first paint.

    .venv/bin/python bench/controlroom_bench.py [--weeks 52] [--calls 40] [--no-browser] [--devices N]

`--devices N`: instead of the cement plant as it is, a plant of about N metered devices grown from
it (`grow`): the cement plant plus copies of its electrical consumers, each copy of a main meter's
consumers on its own feeder (main meter → feeder → devices) in its own areas and gateways.

Starts its own InfluxDB and Mosquitto (harness) and, in order:
1. seeds the last 7 days as the demo does (`plantcarbon.seed`: readings, intervals, demand) and
   prints the time of each step;
2. copies the week's metered intervals (energy and emissions rows, same tags, inside InfluxDB) back over
   `--weeks` − 1 earlier weeks, so the metering bucket holds a year of the plant's intervals;
3. serves the API (the real app, uvicorn, with its alert engine on the broker, as a service runs it),
   publishes one reading batch per metered device as the edge would, and times `--calls` requests
   of each control-room endpoint: p50 and p99, and the first `breakdown` call (the month-to-date
   cache is cold); then again with the last-seen tracker off (the path of an API without an engine);
4. opens the control room in headless Chromium at 1920×1080 and times first full paint:
   from navigation to every figure filled and every chart holding data.
No test asserts any of these timings.
"""

from __future__ import annotations

import argparse
import resource
import signal
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from harness.influxdb import start_influxdb
from harness.mosquitto import start_mosquitto
from harness.process import free_port, port_open, wait_until
from harness.web import ensure_web_assets
from metering.alerts.service import AlertService
from metering.api.app import create_app
from metering.api.deps import Services
from metering.api.settings import ApiSettings
from metering.state.store import Store
from plantcarbon.seed import SeedPlan, seed
from plantcarbon_core.influx import InfluxTarget, influx_client, line, write_lines
from plantcarbon_core.mqtt import BrokerConfig, make_client
from plantcarbon_core.plant import Plant, parse_plant
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, encode_batch
from simulators.history import history_plant_yaml
from simulators.scenario import Scenario, load_scenario


def grow(scenario: Scenario, n: int) -> Scenario:
    """The scenario with copies of its main meters' electrical consumers until it has about `n` metered devices.

    Copy k of main meter M's consumers hangs from a new feeder `M-fk` (kind feeder, summing its devices
    like a loss-free transformer); ids get `-rk`, areas `-rk`, Modbus gateways `-rk` (a gateway holds at
    most 247 units). The main meters' ratings and the contracted demand grow with the plant.
    """
    mains = [d for d in scenario.devices if d.role == "main" and d.carrier == "electricity"]
    per_main = {m.id: [d for d in scenario.children(m.id) if d.carrier == "electricity" and d.meter] for m in mains}
    per_copy = sum(len(v) + 1 for v in per_main.values())
    copies = max(0, -(-(n - len(scenario.metered)) // per_copy))  # ceil
    data = scenario.model_dump()
    for k in range(1, copies + 1):
        data["gateways"] += [{**g.model_dump(), "id": f"{g.id}-r{k}"} for g in scenario.gateways]
        for m in mains:
            kids = per_main[m.id]
            feeder = f"{m.id}-f{k}"
            data["devices"].append({
                "id": feeder, "name": f"{m.name}, feeder {k}", "kind": "feeder", "role": "sub", "parent": m.id,
                "area": m.area, "rated": sum(d.rated for d in kids), "model": "transformer",
                "params": {"no_load_kw": 0.0, "load_loss_kw": 0.0}, "meter": {"profile": "schneider-pm5000"},
            })  # fmt: skip
            for d in kids:
                meter = d.meter.model_dump() if d.meter else None
                if meter and meter["gateway"]:
                    meter["gateway"] = f"{meter['gateway']}-r{k}"
                data["devices"].append({**d.model_dump(), "id": f"{d.id}-r{k}", "name": f"{d.name} ({k + 1})",
                                        "parent": feeder, "area": f"{d.area}-r{k}", "meter": meter})  # fmt: skip
    scale = 1 + copies
    for d in data["devices"]:
        if d["id"] in per_main:
            d["rated"] *= scale
            d["params"] = {k: v * scale if k == "rated_kva" else v for k, v in d["params"].items()}
    if data["contract"].get("demand_limit_kw"):
        data["contract"]["demand_limit_kw"] *= scale
    return Scenario.model_validate(data)


def copy_back(target: InfluxTarget, start: datetime, end: datetime, weeks: int) -> int:
    """The intervals (energy, emissions) of [start, end) written again 1..weeks-1 weeks earlier; returns field values.

    Inside InfluxDB (Flux `timeShift` → `to`, same tags, same field types): no rows through Python,
    so a year of the cement plant (18 M points) takes minutes, not most of an hour.
    """
    q = """
from(bucket: "{b}") |> range(start: {start}, stop: {end})
  |> filter(fn: (r) => r._measurement == "energy" or r._measurement == "emissions")
  |> timeShift(duration: -{days}d) |> to(bucket: "{b}", org: "{org}")
  |> keep(columns: ["_measurement"]) |> group() |> count(column: "_measurement")"""
    n = 0
    with influx_client(target, timeout_ms=600_000) as client:
        api = client.query_api()
        for w in range(1, weeks):
            flux = q.format(b=target.metering_bucket, org=target.org, start=start.isoformat(), end=end.isoformat(),
                            days=7 * w)  # fmt: skip
            n += sum(int(r["_measurement"]) for t in api.query(flux) for r in t.records)
    return n


def serve(plant: Plant, target: InfluxTarget, tmp: Path, broker: str) -> tuple[str, str, uvicorn.Server, Services]:
    """The API as a service runs it: with its alert engine on the broker (which feeds the last-seen tracker)."""
    store = Store(f"sqlite:///{tmp / 'state.sqlite'}")
    key = store.create_key("bench", "viewer")
    engine = AlertService(store, plant, broker, influx=target)
    app = create_app(
        ApiSettings(env="development", data_dir=tmp / "data"), store=store, plant=plant, influx=target,
        alerts_service=engine, start_alerts=True,
    )  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_until(lambda: port_open("127.0.0.1", port), 30, "metering API")
    return f"http://127.0.0.1:{port}", key, server, app.state.services


def publish_readings(plant: Plant, broker: str, svc: Services) -> int:
    """One reading batch per metered device, as the edge publishes them; returns when the tracker has them all."""
    metered = [d for d in plant.devices if d.source is not None]
    assert svc.alerts is not None and svc.alerts.wait_subscribed(30), "alert engine not subscribed"
    client = make_client(BrokerConfig(url=broker), "pc-bench-edge", v5=False)
    client.connect(BrokerConfig(url=broker).host, BrokerConfig(url=broker).port)
    client.loop_start()
    try:
        ts = int(time.time() * 1000)
        for i, d in enumerate(metered):
            batch = ReadingBatch("bench", d.id, i, [Sample(ts, {"p_kw": 1.0})])
            client.publish(data_topic(plant.site.id, d.id), encode_batch(batch), qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()
    assert svc.last_seen is not None
    tracker = svc.last_seen
    wait_until(lambda: len(tracker.live(plant.site.id)) >= len(metered), 30, "the last-seen tracker")
    return len(metered)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def time_calls(base: str, key: str, path: str, calls: int) -> tuple[float, float, float]:
    """(first call, p50, p99) in ms."""
    h = {"Authorization": f"Bearer {key}"}
    out: list[float] = []
    with httpx.Client(base_url=base, headers=h, timeout=60) as c:
        for _ in range(calls):
            t0 = time.perf_counter()
            r = c.get(path)
            out.append((time.perf_counter() - t0) * 1000)
            r.raise_for_status()
    return out[0], statistics.median(out[1:]), pct(out[1:], 99)


# What the page has not filled yet: the data, figures showing "–", charts without data (empty = fully painted).
MISSING = """(() => {
  if (typeof LIVE === 'undefined' || !LIVE || !BREAKDOWN) return ['data'];
  const figures = ['power', 'demand', 'limit', 'energy', 'tce', 'cost', 'co2-ets', 'co2-scope1', 'co2-location',
                   'co2-market'].filter((id) => document.getElementById(id).textContent === '–');
  const charts = ['chart-power', 'chart-demand', 'chart-sankey', 'chart-breakdown'].filter((id) => {
    const c = echarts.getInstanceByDom(document.getElementById(id));
    return !(c && c.getOption().series.some((s) => (s.data || []).length || (s.links || []).length)); });
  return [...figures, ...charts]; })()"""


def first_paint(base: str, key: str, name: str) -> float:
    from playwright.sync_api import sync_playwright

    from harness.browser import CHROMIUM_ARGS, ensure_chromium

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(ensure_chromium()), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(base + "/")  # store the key first: a real user has it in the session already
            page.evaluate("(k) => sessionStorage.setItem('pc.key', k)", key)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            t0 = time.perf_counter()
            page.goto(base + "/")
            out = Path(__file__).resolve().parents[1] / "out" / "bench"
            out.mkdir(parents=True, exist_ok=True)
            try:
                page.wait_for_function(f"() => ({MISSING}).length === 0", timeout=60_000)
            except Exception:
                # Say what never filled (and any script error) and keep the picture, rather than a bare timeout.
                page.screenshot(path=str(out / f"controlroom-{name}-unfinished.png"), full_page=True)
                print(f"first paint unfinished after 60 s: missing {page.evaluate(MISSING)}; page errors {errors}")
                raise
            ms = (time.perf_counter() - t0) * 1000
            page.screenshot(path=str(out / f"controlroom-{name}.png"), full_page=True)
            return ms
        finally:
            browser.close()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress shows under tee
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weeks", type=int, default=52)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--devices", type=int, default=0, help="grow the cement plant to about N metered devices")
    args = ap.parse_args()
    # A stopped run (kill, timeout) still stops its InfluxDB and Mosquitto: SIGTERM unwinds like Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    if not args.no_browser:
        ensure_web_assets()  # the page's charts library, as `make setup` installs it: without it no chart fills
    scenario = load_scenario("cement")
    if args.devices:
        scenario = grow(scenario, args.devices)
    plant = parse_plant(history_plant_yaml(scenario))
    with tempfile.TemporaryDirectory(prefix="pc-crbench-") as tmp:
        influx = start_influxdb(Path(tmp) / "influxd")
        broker = start_mosquitto(Path(tmp) / "mosquitto")
        try:
            target = influx.target()
            now = datetime.now(UTC)
            plan = SeedPlan.last_days(now, 7)
            t0 = time.monotonic()
            figures = seed(scenario, plant, target, plan, lambda m: print(f"  {time.monotonic() - t0:6.1f} s {m}"))
            print(
                f"seed 7 days, {len(plant.devices)} devices: {time.monotonic() - t0:.1f} s "
                f"(simulate {figures['simulate_s']:.1f}, raw write {figures['raw_write_s']:.1f}, "
                f"metering {figures['metering_s']:.1f}, demand {figures['demand_s']:.1f}); "
                f"{figures['readings']:,.0f} values, {figures['interval_points']:,.0f} interval points; "
                f"bench peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB",
                flush=True,
            )
            t1 = time.monotonic()
            total = copy_back(target, plan.origin, plan.until, args.weeks)
            print(
                f"copied {total:,} interval field values back over {args.weeks - 1} weeks "
                f"in {time.monotonic() - t1:.0f} s",
                flush=True,
            )
            # The live edge's newest power row for the main meters (the seeded history ended minutes ago).
            now_ms = int(time.time() * 1000)
            mains = [d for d in plant.devices if d.role == "main" and d.carrier == "electricity" and d.source]
            write_lines(target, target.raw_bucket, [
                line("electricity", {"site": plant.site.id, "area": d.area, "device": d.id, "kind": d.kind,
                                     "edge": "bench"}, {"p_kw": 1000.0}, now_ms) for d in mains])  # fmt: skip
            base, key, server, svc = serve(plant, target, Path(tmp), broker.url)
            print(f"published one reading batch for each of {publish_readings(plant, broker.url, svc)} devices")
            device = max((d for d in plant.devices if d.role == "sub" and d.source), key=lambda d: d.rated_kw or 0)

            paths = ("/api/v1/controlroom/live", "/api/v1/controlroom/breakdown",
                     f"/api/v1/controlroom/devices/{device.id}")  # fmt: skip
            tracker = svc.last_seen
            # The service path (tracker fed by the engine, today's rows kept fresh in the background), then
            # the path without an alert engine: newest reading per device asked of InfluxDB on every call.
            for label, seen in (("fast path", tracker), ("no alert engine: last seen from InfluxDB", None)):
                svc.last_seen = seen
                for path in paths:
                    first, p50, p99 = time_calls(base, key, path, args.calls)
                    print(f"{path} ({label}): first {first:.0f} ms, p50 {p50:.0f} ms, p99 {p99:.0f} ms "
                          f"({args.calls} calls)", flush=True)  # fmt: skip
            svc.last_seen = tracker
            if not args.no_browser:
                name = f"{plant.site.id}-{len(plant.devices)}" if args.devices else "cement"
                print(f"time to first full paint (1920x1080, warm API): {first_paint(base, key, name):.0f} ms")
            server.should_exit = True
        finally:
            influx.stop()
            broker.stop()


if __name__ == "__main__":
    main()
