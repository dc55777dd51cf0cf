"""`plantcarbon simulate demo`: a simulated plant flowing live through the whole pipeline.

It starts Mosquitto and InfluxDB through the harness, the scenario's simulated meters, the
edge agent, ingest, the metering service, live demand and the API, each as its own process wired only by
PLANTCARBON_* settings (as they would run in production), builds the Grafana provisioning
files, prints where everything is, and shows a live terminal view. Ctrl-C stops everything.
State lives in `<data dir>/demo`, so a second run starts in seconds (influxd is cached).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import paho.mqtt.client as mqtt
import pandas as pd
import typer
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.influxdb import start_influxdb
from harness.mosquitto import Mosquitto, start_mosquitto
from harness.process import free_port, port_open, wait_until
from harness.stack import Stack, scrape_metrics
from plantcarbon.seed import SeedPlan, seed
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxQLError, InfluxTarget, influxql, quote_ident, quote_literal
from plantcarbon_core.plant import Plant, load_plant
from plantcarbon_core.settings import Settings
from simulators.scenario import load_scenario

app = typer.Typer(add_completion=False, rich_markup_mode=None)
DEMO_ADMIN_KEY = "pc-demo-admin-key-for-this-machine-only"


@dataclass
class Demo:
    stack: Stack
    api_port: int
    edge_metrics: int
    ingest_metrics: int

    @property
    def target(self) -> InfluxTarget:
        return self.stack.target

    def stop(self) -> None:
        self.stack.stop_all()
        self.stack.influx.stop()
        self.stack.broker.stop()


def _port(preferred: int) -> int:
    return preferred if not port_open("127.0.0.1", preferred) else free_port()


class StatusWatch:
    """Devices online, from the retained device status topics the edge publishes."""

    def __init__(self, broker: Mosquitto, site: str, prefix: str = "pc"):
        self.online: dict[str, bool] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-view-{os.getpid()}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/{site}/+/status", qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        device = msg.topic.split("/")[2]
        try:
            online = bool(json.loads(msg.payload).get("online"))
        except (ValueError, AttributeError):
            return  # not ours to judge; the view only counts well-formed status
        with self.lock:
            self.online[device] = online

    def count(self) -> int:
        with self.lock:
            return sum(self.online.values())

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _device_filter(ids: list[str]) -> str:
    return " OR ".join(f'"device" = {quote_literal(d)}' for d in ids) or "false"


class DirectToday:
    """The clinker line's direct CO2 of the local day so far, recomputed at most every `every_s` s."""

    def __init__(self, plant_file: Path, lab: Path, target: InfluxTarget, every_s: float = 30.0):
        from metering.direct.cli import build_dataset  # the metering part's own loader (same validation)

        self.dataset = build_dataset(plant_file, None, lab, None)
        self.target, self.every_s = target, every_s
        self.last: tuple[float, str] | None = None

    def text(self) -> str:
        if self.last is not None and time.monotonic() - self.last[0] < self.every_s:
            return self.last[1]
        from metering.direct.service import today_so_far

        try:
            acc = today_so_far(self.dataset, self.target, pd.Timestamp.now(tz="UTC"))
            parts = [
                f"{u.unit.id} {u.direct_co2_t:,.1f} t"
                + (f" = {u.intensity:.3f} tCO2/t clinker" if u.clinker_t > 0 else " (no clinker yet)")
                for u in acc.units
            ]
            text = "; ".join(parts) + f"  ({self.dataset.method.ref})"
        except Exception as exc:  # the view shows why rather than dying
            text = f"n/a: {exc}"
        self.last = (time.monotonic(), text)
        return text


def write_demo_lab(plant: Plant, path: Path, first: datetime) -> Path | None:
    """A composite lab book from the first simulated day to tomorrow, when the plant has a carbon: block."""
    if plant.carbon is None:
        return None
    from simulators.kiln import LAB_COLUMNS, composite_lab

    tz = plant.site.tz
    a = first.astimezone(tz).date()
    b = datetime.now(tz).date() + timedelta(days=1)  # a demo running past midnight keeps its lab values
    pd.DataFrame(composite_lab(a, b), columns=LAB_COLUMNS).to_csv(path, index=False)
    return path


@dataclass
class View:
    demo: Demo
    plant: Plant
    started: float
    status: StatusWatch
    plant_dir: Path  # with data_dir: where the API's metering finds factor files
    data_dir: Path
    direct: DirectToday | None = None
    last_values: float = 0.0
    last_t: float = 0.0
    rate: float = 0.0

    def main_electric(self) -> list[str]:
        return [d.id for d in self.plant.devices if d.role == "main" and d.carrier == "electricity" and d.source]

    def query(self, q: str, db: str) -> float:
        try:
            df = influxql(self.demo.target, q, db)
        except InfluxQLError:
            return float("nan")
        if df.empty:
            return 0.0
        col = next(c for c in df.columns if c not in ("time", "device", "rule", "_measurement"))
        return float(df[col].fillna(0).sum())

    def demand(self) -> str:
        try:
            df = influxql(
                self.demo.target,
                f'SELECT last("forecast_kw") AS f, last("limit_kw") AS l FROM {quote_ident(sc.DEMAND)} '
                f'WHERE "device" = {quote_literal(sc.SITE_TOTAL_DEVICE)} AND time <= now()',
                self.demo.target.metering_bucket,
            )
        except InfluxQLError:
            return "n/a"
        if df.empty:
            return "waiting for the first minute"
        forecast, limit = (pd.to_numeric(df[c], errors="coerce").iloc[0] for c in ("f", "l"))
        # The forecast is empty until the window has enough minutes; the limit may be unset.
        shown = [f"{v:,.0f} kW" if pd.notna(v) else "n/a" for v in (forecast, limit)]
        return " / ".join(shown)

    def firing_alerts(self) -> list[str]:
        try:
            df = influxql(
                self.demo.target,
                f'SELECT last("state") FROM {quote_ident(sc.ALERTS)} GROUP BY "rule"',
                self.demo.target.metering_bucket,
            )
        except InfluxQLError:
            return []
        if df.empty:
            return []
        return sorted(str(r) for r, state in zip(df["rule"], df["last"], strict=True) if state == "firing")

    def snapshot(self) -> dict[str, str]:
        edge, ingest = scrape_metrics(self.demo.edge_metrics), scrape_metrics(self.demo.ingest_metrics)
        values = ingest.get("ingest_values_total", 0.0)
        now = time.monotonic()
        if self.last_t:
            self.rate = (values - self.last_values) / max(now - self.last_t, 1e-6)
        self.last_values, self.last_t = values, now
        mains = _device_filter(self.main_electric())
        since = f"time >= {int((time.time() - (now - self.started)) * 1000)}ms"
        power = self.query(
            f'SELECT last("p_kw") FROM "electricity" WHERE ({mains}) AND time > now() - 30s GROUP BY "device"',
            self.demo.target.raw_bucket,
        )
        energy = self.query(
            f'SELECT spread("e_imp_kwh") FROM "electricity" WHERE ({mains}) AND {since} GROUP BY "device"',
            self.demo.target.raw_bucket,
        )
        factor = _grid_factor(self.plant, self.plant_dir, self.data_dir)
        alerts = self.firing_alerts()
        intervals = self.query(
            f'SELECT count("amount") FROM {quote_ident(sc.ENERGY)} WHERE {since}', self.demo.target.metering_bucket
        )
        return {
            "devices online": f"{self.status.count()} / {sum(1 for d in self.plant.devices if d.source)}",
            "values/s into InfluxDB": f"{self.rate:,.0f}",
            "edge polls ok": f"{edge.get('pc_edge_polls_total|result=ok', 0):,.0f}",
            "edge outbox depth": f"{edge.get('pc_edge_outbox_samples', 0):,.0f} samples",
            "site power (main meters)": f"{power:,.1f} kW",
            "energy since start": f"{energy:,.2f} kWh",
            "CO2 since start (scope 2, location)": (
                f"{energy * factor[1]:,.2f} kg  ({factor[0]})" if factor[1] == factor[1] else "n/a"
            ),
            # The national carbon market's boundary (fuel + process, lab values), never added to scope 2.
            "direct CO2 today (ETS: fuel + process)": self.direct.text() if self.direct else "n/a (no carbon: block)",
            "metered interval rows written": f"{intervals:,.0f}",
            "15-min demand forecast / limit": self.demand(),
            "active alerts": ", ".join(alerts) or "none",
        }


def _grid_factor(plant: Plant, plant_dir: Path, data_dir: Path) -> tuple[str, float]:
    """The location-based grid factor the metering service uses now, in kg CO2 per kWh."""
    try:
        from metering.carbon.factor_registry import grid_factor_now  # the metering part's registry (same data files)

        f = grid_factor_now(plant, plant_dir, data_dir)
        return f.ref, float(f.kg_per("kWh"))
    except Exception as exc:  # the view shows "no factor" rather than dying
        return f"no factor: {exc}", float("nan")


def plain_lines(asked: bool, console: Console) -> bool:
    """Plain lines when asked, or when the output is not a terminal (rich's live view draws only on a TTY,
    so `make demo | tee log` would otherwise show nothing after the header)."""
    return asked or not console.is_terminal


def _render(rows: dict[str, str], title: str) -> Table:
    t = Table(title=title, show_header=False, expand=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    for k, v in rows.items():
        t.add_row(k, v)
    return t


@app.command("demo")
def demo(
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Scenario: small or cement.")] = "cement",
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")] = None,
    workdir: Annotated[Path | None, typer.Option(help="State directory (default: <data dir>/demo).")] = None,
    plain: Annotated[
        bool, typer.Option(help="Print a line per refresh instead of the live view (automatic when not a terminal).")
    ] = False,
    history_days: Annotated[
        float, typer.Option(help="Days of simulated history written before going live (0: none).", min=0, max=31)
    ] = 7.0,
) -> None:
    """Run a simulated plant live through edge → broker → ingest → InfluxDB → metering, API and dashboards."""
    console = Console()
    plain = plain_lines(plain, console)
    wd = workdir or Settings().data_dir / "demo"
    wd.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]plantcarbon demo[/] — scenario {scenario}, state in {wd}")
    t0 = time.monotonic()
    broker = start_mosquitto(wd / "mosquitto", port=_port(1883))
    influx = start_influxdb(wd / "influxd", port=_port(8086))
    stack = Stack(wd, broker, influx, influx.target(), extra_env={"PLANTCARBON_BOOTSTRAP_ADMIN_KEY": DEMO_ADMIN_KEY})
    d = Demo(stack, api_port=_port(8000), edge_metrics=free_port(), ingest_metrics=free_port())
    status: StatusWatch | None = None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        plant_file = wd / "plant.yaml"
        plant_file.unlink(missing_ok=True)
        plan = SeedPlan.last_days(datetime.now(UTC), history_days) if history_days > 0 else None
        # With history, the live meters' counters start at its origin, so live continues it without a reset.
        origin = ["--origin", plan.origin.isoformat()] if plan else []
        sim = stack.spawn(
            "simulators",
            [
                "simulate",
                "run",
                "--scenario",
                scenario,
                "--plant-out",
                str(plant_file),
                "--mqtt-url",
                broker.url,
                *origin,
            ],
        )
        wait_until(lambda: plant_file.exists() and plant_file.stat().st_size > 0, 120, "simulators", sim.proc, sim.log)
        time.sleep(0.5)  # the file is written whole before the servers report ready
        plant = load_plant(plant_file)
        plant_opt = ["--plant", str(plant_file)]
        ingest_args = ["ingest", "run", *plant_opt, "--metrics-port", str(d.ingest_metrics)]
        stack.spawn("ingest", ingest_args, health_port=d.ingest_metrics)
        stack.wait_log("ingest", "subscribed")  # its persistent session exists before the first batch
        outbox = str(wd / "edge-outbox.sqlite")
        stack.spawn("edge", ["edge", "run", *plant_opt, "--metrics-port", str(d.edge_metrics), "--outbox", outbox])
        stack.spawn("demand", ["demand", "watch", str(plant_file)])  # live 15-min demand, forecast, pre-alarm
        stack.spawn(
            "api",
            ["metering", "serve", "--port", str(d.api_port)],
            health_port=d.api_port,
            PLANTCARBON_PLANT_FILE=str(plant_file),
        )
        dash = stack.run(["dashboards", "build", *plant_opt, "--out", str(wd / "grafana"), "--influx-url", influx.url])
        if dash.returncode != 0:
            raise RuntimeError(f"dashboards build failed:\n{dash.stdout}{dash.stderr}")
        wait_until(lambda: port_open("127.0.0.1", d.api_port), 60, "metering API")
        status = StatusWatch(broker, plant.site.id)
        console.print(
            f"  MQTT broker      {broker.url}\n"
            f"  InfluxDB {influx.version:<8}{influx.url}  org {influx.org}  token {influx.token}\n"
            f"  metering API     http://127.0.0.1:{d.api_port}/  (docs /docs, admin key {DEMO_ADMIN_KEY})\n"
            f"  Grafana files    {wd / 'grafana'}  (point Grafana's provisioning path here; see docs/dashboards.md)\n"
            f"  plant file       {plant_file}  ({len(plant.devices)} devices)\n"
            f"  metrics          edge http://127.0.0.1:{d.edge_metrics}/metrics  ingest http://127.0.0.1:{d.ingest_metrics}/metrics\n"
            f"  logs             {wd / 'logs'}\n"
            f"  control room     http://127.0.0.1:{d.api_port}/  (enter the admin key above)\n"
            f"  started in {time.monotonic() - t0:.1f} s; Ctrl-C stops everything"
        )
        if plan is not None:
            # History before the metering service starts: it would otherwise meter the same days twice.
            stack.check()
            seed(load_scenario(scenario), plant, d.target, plan, lambda m: console.print(f"  {m}", highlight=False))
        metering_health = free_port()
        metering_args = ["metering", "run", *plant_opt, "--poll-s", "15", "--health-port", str(metering_health)]
        stack.spawn("metering", metering_args, health_port=metering_health)
        lab = write_demo_lab(plant, wd / "lab.csv", plan.origin if plan else datetime.now(UTC))
        direct = DirectToday(plant_file, lab, d.target) if lab is not None else None
        view = View(
            d, plant, started=time.monotonic(), status=status, plant_dir=wd, data_dir=Settings().data_dir, direct=direct
        )
        deadline = None if duration is None else time.monotonic() + duration
        title = f"{plant.site.name} — live"
        if plain:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                stack.check()
                console.print(
                    " | ".join(f"{k}: {v}" for k, v in view.snapshot().items()), highlight=False, soft_wrap=True
                )
                stop.wait(5)
        else:
            with Live(_render(view.snapshot(), title), console=console, refresh_per_second=1) as live:
                while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                    stack.check()
                    stop.wait(2)
                    live.update(_render(view.snapshot(), title))
        final = view.snapshot()
        console.print(_render(final, f"{plant.site.name} — at stop"))
    except KeyboardInterrupt:
        console.print("stopping …")
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[bold red]demo failed:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    finally:
        if status is not None:
            status.close()
        d.stop()
        console.print("stopped cleanly")
