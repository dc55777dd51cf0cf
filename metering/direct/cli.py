"""`plantcarbon carbon month`: a month's direct emissions and its three boundaries, offline, from files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import typer

from core.plant_cli import load_plant_or_exit
from core.settings import load_settings
from metering.direct.accounting import Dataset, account
from metering.direct.config import CarbonConfigError, carbon_config
from metering.direct.lab import empty_book, parse_lab
from metering.direct.report import write
from metering.direct.stocks import chain_warnings, parse_stocks
from metering.direct.tables import InputFileError
from metering.factors import FactorFileError
from metering.io import read_readings_csv
from metering.service import Context

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)

FORMATS = ("json", "csv", "xlsx")


def _fail(lines: list[str], code: int = 1) -> typer.Exit:
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(code)


def month_days(text: str) -> tuple[dt.date, dt.date]:
    """'2026-01' → its first and last local day."""
    try:
        if len(text) != 7:
            raise ValueError
        p = pd.Period(text, freq="M")
    except ValueError:
        raise _fail([f"--month: {text!r} is not YYYY-MM"], 2) from None
    return p.start_time.date(), p.end_time.date()


def load_dataset(plant_path: Path, readings: Path | None, lab: Path | None, stocks: Path | None) -> Dataset:
    """Every input validated before anything is computed; all mistakes of a file printed at once."""
    plant = load_plant_or_exit(plant_path)
    try:
        cfg, method = carbon_config(plant, str(plant_path))
    except CarbonConfigError as exc:
        raise _fail(exc.errors) from None
    try:
        ctx = Context.load(plant, plant_path.parent, load_settings().data_dir)
    except (FactorFileError, ValueError) as exc:
        raise _fail([str(exc)]) from None
    errors: list[str] = []
    ds = Dataset(plant, cfg, method, registry=ctx.registry, green=ctx.green)
    if readings is not None:
        try:
            ds.readings = read_readings_csv(readings)
        except ValueError as exc:
            errors.append(str(exc))
    if lab is not None:
        try:
            ds.lab = parse_lab(lab, cfg, method)
        except InputFileError as exc:
            errors.extend(exc.errors)
    else:
        ds.lab = empty_book()
    if stocks is not None:
        try:
            ds.stocks = parse_stocks(stocks, cfg)
            for w in chain_warnings(ds.stocks, str(stocks)):
                typer.echo(f"warning: {w}", err=True)
        except InputFileError as exc:
            errors.extend(exc.errors)
    if errors:
        raise _fail([*errors, f"{len(errors)} error(s): nothing computed"])
    return ds


@app.command()
def month(
    plant: Path = typer.Option(..., "--plant", "-p", help="The plant file (YAML) with its carbon: block."),
    month: str = typer.Option(..., "--month", help="The month, YYYY-MM (local calendar of the site)."),
    readings: Path | None = typer.Option(None, help="Meter export CSV: time, device, quantity, value."),
    lab: Path | None = typer.Option(None, help="Lab analyses and records (CSV or XLSX), every version."),
    stocks: Path | None = typer.Option(None, help="Stock balances per material and month (CSV or XLSX)."),
    fmt: str = typer.Option("json", "--format", help="json | csv | xlsx"),
    out: Path | None = typer.Option(None, help="Output file (default: stdout for json and csv)."),
) -> None:
    """A month's direct emissions per emission unit, GB/T 32150 scopes and CBAM per tonne, with provenance."""
    if fmt not in FORMATS:
        raise _fail([f"--format: {fmt!r}, need one of {', '.join(FORMATS)}"], 2)
    if fmt == "xlsx" and out is None:
        raise _fail(["--format xlsx needs --out FILE.xlsx"], 2)
    start, end = month_days(month)
    ds = load_dataset(plant, readings, lab, stocks)
    acc = account(ds, start, end)
    bench = ds.method.benchmark.model_dump() if ds.method.benchmark else None
    for w in acc.warnings:
        typer.echo(f"warning: {w}", err=True)
    for u in acc.units:
        for m in u.missing:
            typer.echo(f"incomplete: {m}", err=True)
    if out is None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"report.{fmt}"
            write(acc, ds.plant.site.id, fmt, path, bench)
            typer.echo(path.read_text("utf-8"), nl=False)
        return
    write(acc, ds.plant.site.id, fmt, out, bench)
    for u in acc.units:
        typer.echo(
            f"{out}: {u.unit.id} {month}: clinker {u.clinker_t:.1f} t, direct CO2 {u.direct_co2_t:.1f} t "
            f"(fuel {u.fuel_co2_t:.1f}, process {u.process_co2_t:.1f}), {u.intensity:.4f} tCO2/t"
        )


@app.command()
def recompute(
    plant: Path = typer.Option(..., "--plant", "-p", help="The plant file (YAML) with its carbon: block."),
    start: str = typer.Option(..., "--from", help="First local day, YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last local day (included), YYYY-MM-DD."),
    lab: Path | None = typer.Option(None, help="Lab analyses and records (CSV or XLSX), every version."),
    stocks: Path | None = typer.Option(None, help="Stock balances per material and month (CSV or XLSX)."),
) -> None:
    """Live store: read readings from InfluxDB, write daily direct-emission points (measurement `direct`)."""
    from core.influx import InfluxTarget
    from metering.direct.service import recompute_direct

    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise _fail([f"--from/--to: {start!r}/{end!r} are not dates YYYY-MM-DD"], 2) from None
    if last < first:
        raise _fail([f"--to {last} is before --from {first}"], 2)
    ds = load_dataset(plant, None, lab, stocks)
    acc, n = recompute_direct(ds, InfluxTarget.from_settings(load_settings()), first, last)
    for w in acc.warnings:
        typer.echo(f"warning: {w}", err=True)
    for u in acc.units:
        for m in u.missing:
            typer.echo(f"incomplete: {m}", err=True)
        typer.echo(
            f"{u.unit.id} {first}..{last}: clinker {u.clinker_t:.1f} t, direct CO2 {u.direct_co2_t:.1f} t, "
            f"{u.intensity:.4f} tCO2/t; {n} points written"
        )
