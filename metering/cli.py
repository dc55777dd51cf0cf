"""`plantcarbon metering run|recompute|compute|explain`: the interval engine's commands."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from pathlib import Path

import pandas as pd
import typer
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import Progress

from metering.carbon.factor_registry import FactorFileError
from metering.io import read_raw, read_readings_csv, results_table
from metering.service import PAD, SOURCES, STEP, Context, ContinuousMetering, compute_period, floor_interval, recompute
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.liveness import Liveness, serve
from plantcarbon_core.plant import Plant
from plantcarbon_core.plant_cli import load_plant_or_exit
from plantcarbon_core.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)

PlantOpt = typer.Option(..., "--plant", "-p", help="The plant file (YAML).")


def _load(plant_path: Path) -> tuple[Plant, Context]:
    plant = load_plant_or_exit(plant_path)
    try:
        return plant, Context.load(plant, plant_path.parent, load_settings().data_dir)
    except (FactorFileError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def _ts(text: str, tz: str, what: str) -> pd.Timestamp:
    """ISO date/time; without an offset it is the site's local time."""
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        typer.echo(f"{what}: not an ISO 8601 date or time: {text!r}", err=True)
        raise typer.Exit(2) from None
    return (ts.tz_localize(tz) if ts.tzinfo is None else ts).tz_convert("UTC")


def _target() -> InfluxTarget:
    return InfluxTarget.from_settings(load_settings())


@app.command()
def run(
    plant: Path = PlantOpt,
    poll_s: float = typer.Option(30.0, help="Seconds between cycles."),
    horizon_h: float = typer.Option(48.0, help="How far back late data is looked for (hours)."),
    health_port: int | None = typer.Option(
        None, min=0, max=65535, help="Serve /healthz and /metrics on 127.0.0.1:PORT (0: a free port)."
    ),
) -> None:
    """Continuous metering: close each 15-minute interval after the lateness window, write energy and
    emissions, and recompute intervals that receive late data."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _, ctx = _load(plant)
    svc = ContinuousMetering(ctx, _target(), horizon=pd.Timedelta(hours=horizon_h))
    liveness = Liveness()
    # The loop runs in this thread; a cycle stuck (a query that never returns) turns health red.
    liveness.watch("cycle", threading.current_thread(), stale_after_s=max(600.0, 4 * poll_s))
    liveness.extra.update(points=lambda: svc.points, errors=lambda: sum(svc.errors.values()))
    if health_port is not None:
        server = serve(liveness, CollectorRegistry(), health_port)
        logging.getLogger("plantcarbon.metering").info("health on 127.0.0.1:%d", server.server_address[1])
    with contextlib.suppress(KeyboardInterrupt):
        svc.run(poll_s=poll_s, liveness=liveness)


@app.command("recompute")
def recompute_cmd(
    plant: Path = PlantOpt,
    start: str = typer.Option(..., "--from", help="Start (ISO 8601; local site time without offset)."),
    end: str = typer.Option(..., "--to", help="End, exclusive."),
    chunk_h: float | None = typer.Option(
        None, help="Hours per read/compute/write chunk (default: 24 from readings, 168 from energy)."
    ),
    source: str = typer.Option(
        "readings",
        help="readings: derive intervals again from the raw bucket (late data, plant-file or engine change); "
        "energy: price the stored interval energy again (a factor update: rewrites tce_kg and emissions).",
    ),
) -> None:
    """Recompute a period into the metering bucket (idempotent), e.g. after a factor update."""
    if source not in SOURCES:
        raise typer.BadParameter(f"must be one of {', '.join(SOURCES)}, got {source!r}", param_hint="--source")
    p, ctx = _load(plant)
    t0, t1 = _ts(start, p.site.timezone, "--from"), _ts(end, p.site.timezone, "--to")
    total = int((floor_interval(t1) - floor_interval(t0)) / STEP)
    with Progress(console=Console(stderr=True)) as bar:
        task = bar.add_task("recompute", total=max(total, 1))
        points, problems = recompute(
            ctx,
            _target(),
            t0,
            t1,
            source=source,
            chunk=pd.Timedelta(hours=chunk_h) if chunk_h else None,
            progress=lambda n: bar.advance(task, n),
        )
    for line in problems:
        typer.echo(f"warning: {line}", err=True)
    print(f"wrote {points} points for {total} intervals")


@app.command("compute")
def compute_cmd(
    plant: Path = PlantOpt,
    readings: Path = typer.Option(
        ..., help="Meter export CSV: time, device, quantity, value (or one column per quantity)."
    ),
    start: str = typer.Option(..., "--from", help="Start (ISO 8601; local site time without offset)."),
    end: str = typer.Option(..., "--to", help="End, exclusive."),
    out: Path = typer.Option(..., help="results.csv or results.json"),
    intensity: str | None = typer.Option(
        None, help="Also print intensity per tonne of product per 'day' or 'month', rated against benchmarks."
    ),
) -> None:
    """Offline: compute energy, tce and CO2 from a CSV export, no InfluxDB needed."""
    p, ctx = _load(plant)
    try:
        df = read_readings_csv(readings)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    t0, t1 = _ts(start, p.site.timezone, "--from"), _ts(end, p.site.timezone, "--to")
    res = compute_period(ctx, df, floor_interval(t0), floor_interval(t1))
    table = results_table(res.energy, res.emissions)
    if out.suffix == ".json":
        doc = {
            "energy": json.loads(results_table(res.energy, res.emissions.iloc[0:0]).to_json(orient="records")),
            "emissions": json.loads(results_table(res.energy.iloc[0:0], res.emissions).to_json(orient="records")),
            "problems": res.problems,
        }
        out.write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
    else:
        table.to_csv(out, index=False)
    for line in res.problems:
        typer.echo(f"warning: {line}", err=True)
    print(f"{out}: {len(res.energy)} energy rows, {len(res.emissions)} emissions rows")
    if intensity is not None:
        from metering.carbon.intensity import intensity as intensity_table
        from metering.carbon.intensity import rate, shipped_benchmarks

        if intensity not in ("day", "month"):
            typer.echo(f"--intensity: must be day or month, got {intensity!r}", err=True)
            raise typer.Exit(2)
        bench = shipped_benchmarks()
        # One table per product a benchmark names: each is rated on its own product's tonnes.
        for product in sorted({b.product for b in bench.benchmarks} | {b.product for b in bench.baselines} or {"*"}):
            table = rate(intensity_table(res, p, "day" if intensity == "day" else "month", product), bench, product)
            print(f"per tonne of {'the site output' if product == '*' else product}:")
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


@app.command()
def explain(
    plant: Path = PlantOpt,
    device: str = typer.Option(..., help="Device id."),
    interval: str = typer.Option(..., help="Any time inside the interval (ISO 8601; local time without offset)."),
    readings: Path | None = typer.Option(None, help="Read from this CSV instead of InfluxDB."),
) -> None:
    """Print the chain readings → delta → energy → factor (with source) → CO2 for one interval."""
    from metering.explain import explain as explain_lines

    p, ctx = _load(plant)
    try:
        p.device(device)
    except KeyError:
        typer.echo(f"--device: no device {device!r} in {plant}", err=True)
        raise typer.Exit(1) from None
    t = floor_interval(_ts(interval, p.site.timezone, "--interval"))
    df = read_readings_csv(readings) if readings is not None else read_raw(_target(), p, t - PAD, t + STEP + PAD)
    for line in explain_lines(ctx, df, device, t):
        print(line)
