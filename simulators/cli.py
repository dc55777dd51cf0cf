"""`plantcarbon simulate …`: history files with ground truth, live simulated plants, scenario listing."""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from plantcarbon_core.plant import parse_plant
from simulators.scenario import ScenarioError, available_scenarios, load_scenario

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)
err = Console(stderr=True)

ScenarioOpt = Annotated[str, typer.Option("--scenario", "-s", help="Scenario name (small, cement) or a YAML file.")]
SeedOpt = Annotated[int | None, typer.Option(help="Seed; default: the scenario's own.")]


def _scenario(name: str):  # type: ignore[no-untyped-def]
    try:
        return load_scenario(name)
    except ScenarioError as exc:
        for line in exc.errors:
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(2) from None


def _when(text: str, what: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        err.print(f"{what}: not an ISO 8601 date/time: {text!r}", markup=False)
        raise typer.Exit(2) from None
    return t if t.tzinfo else t.astimezone()


def _step(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except (ValueError, IndexError):
        err.print(f"--step: expected seconds like 60s, 5m or 1h, got {text!r}", markup=False)
        raise typer.Exit(2) from None


@app.command("scenarios")
def scenarios() -> None:
    """List the bundled scenarios."""
    for name in available_scenarios():
        sc = load_scenario(name)
        print(f"{name:10s} {len(sc.devices):4d} devices  {sc.description}")


@app.command()
def history(
    scenario: ScenarioOpt,
    start: Annotated[str, typer.Option("--from", help="Start, ISO 8601 (local time if no offset).")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601.")],
    step: Annotated[str, typer.Option(help="Sampling step of the meters: 60s, 5m, 1h.")] = "60s",
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("sim-history"),
    fmt: Annotated[str, typer.Option("--format", help="csv | parquet | wire (JSON lines) | mqtt (publish).")] = "csv",
    mqtt_url: Annotated[
        str | None, typer.Option(help="Broker for --format mqtt (default PLANTCARBON_MQTT_URL).")
    ] = None,
    seed: SeedOpt = None,
) -> None:
    """Write the readings the meters would have produced, plus a ground-truth file per 15 minutes."""
    from plantcarbon_core.settings import load_settings
    from simulators.history import generate, write

    if fmt not in ("csv", "parquet", "wire", "mqtt"):
        err.print(f"--format: must be csv, parquet, wire or mqtt, got {fmt!r}", markup=False)
        raise typer.Exit(2)
    sc = _scenario(scenario)
    settings = load_settings()
    try:
        h = generate(sc, _when(start, "--from"), _when(end, "--to"), _step(step), seed)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    paths = write(h, out, fmt, mqtt_url or settings.mqtt_url, settings.mqtt_prefix)  # type: ignore[arg-type]
    print(f"{sc.id}: {len(h.readings)} readings, {len(h.truth)} truth rows")
    for p in paths:
        print(f"  {p}")


@app.command()
def run(
    scenario: ScenarioOpt,
    plant_out: Annotated[Path, typer.Option("--plant-out", help="Where to write the plant file.")] = Path(
        "sim-plant.yaml"
    ),
    mqtt_url: Annotated[
        str | None, typer.Option(help="Broker for MQTT devices (default PLANTCARBON_MQTT_URL).")
    ] = None,
    no_mqtt: Annotated[bool, typer.Option("--no-mqtt", help="Do not start MQTT devices.")] = False,
    base_port: Annotated[int | None, typer.Option(help="First TCP port (default: free ports).")] = None,
    seed: SeedOpt = None,
    update_s: Annotated[float, typer.Option(help="Seconds between register-image updates.")] = 1.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")] = None,
    speed: Annotated[
        float,
        typer.Option(help="Simulated seconds per wall second (compressed clock; readers stamp wall time).", min=0.001),
    ] = 1.0,
    origin: Annotated[
        str | None,
        typer.Option(
            help="When the counters started (ISO 8601); the demo passes its history's start so live continues it."
        ),
    ] = None,
) -> None:
    """Start the scenario's simulated meters in real time, print endpoints, write the plant file."""
    from plantcarbon_core.settings import load_settings
    from simulators.plant import SimulatedPlant

    sc = _scenario(scenario)
    url = None if no_mqtt else (mqtt_url or load_settings().mqtt_url)
    sim = SimulatedPlant(
        sc,
        seed,
        base_port=base_port,
        update_s=update_s,
        origin=_when(origin, "--origin") if origin else None,
        speed=speed,
    )
    try:
        sim.start(mqtt_url=url)
    except (OSError, RuntimeError) as exc:
        err.print(f"cannot start the simulated plant: {exc}", markup=False)
        raise typer.Exit(1) from None
    sim.write_plant(plant_out)
    parse_plant(plant_out.read_text("utf-8"), str(plant_out))  # what we wrote must load
    for key, server in sim.servers.items():
        units = sorted(ep.unit for ep in sim.endpoints.values() if ep.port_key == key)
        span = f"{units[0]}-{units[-1]}" if units == list(range(units[0], units[-1] + 1)) else str(units)
        print(f"modbus {server.framer:6s} {server.host}:{server.port}  {key}  units {span}")
    for dev, m in sim.mqtt.items():
        print(f"mqtt   {m.broker.host}:{m.broker.port}  {m.topic}  ({dev})")
    print(f"plant file: {plant_out}  — Ctrl-C to stop", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = time.monotonic() + duration if duration else None
    while not stop.wait(0.5):
        if deadline is not None and time.monotonic() >= deadline:
            break
    sim.stop()
    print("stopped")


@app.command()
def kiln(
    month: str = typer.Option(..., "--month", help="The month to simulate, YYYY-MM."),
    out: Path = typer.Option(
        ..., "--out", help="Folder for plant.yaml, readings.csv, lab.csv, stocks.csv, truth.json."
    ),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same month."),
    step_s: int = typer.Option(
        300, "--step-s", help="Seconds between counter samples (≤ 300 keeps intervals measured)."
    ),
) -> None:
    """A clinker kiln line's month with ground truth, as files for `plantcarbon carbon month`."""
    import pandas as pd

    from simulators.kiln import simulate, write_files

    try:
        if len(month) != 7:
            raise ValueError
        p = pd.Period(month, freq="M")
    except ValueError:
        typer.echo(f"--month: {month!r} is not YYYY-MM", err=True)
        raise typer.Exit(2) from None
    if not 1 <= step_s <= 3600:
        typer.echo(f"--step-s: {step_s} must be between 1 and 3600", err=True)
        raise typer.Exit(2)
    line = simulate(p.start_time.date(), p.end_time.date(), seed=seed)
    paths = write_files(line, out, step_s)
    truth = line.truth()
    typer.echo(
        f"{out}: {len(line.days)} days, clinker {truth['clinker_t']:.1f} t, direct CO2 {truth['direct_co2_t']:.1f} t "
        f"(truth in {paths['truth.json'].name})"
    )
