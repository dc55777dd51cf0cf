"""`plantcarbon carbon month`: a month's direct emissions and its three boundaries, offline, from files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import typer

from metering.carbon.factor_registry import FactorFileError
from metering.direct.accounting import Dataset, UnitResult, account
from metering.direct.config import CarbonConfigError, carbon_config
from metering.direct.lab import empty_book, parse_lab
from metering.direct.report import write
from metering.direct.stocks import chain_warnings, parse_stocks
from metering.direct.tables import InputFileError
from metering.io import read_readings_csv
from metering.service import Context
from plantcarbon_core.plant import PlantFileError, load_plant
from plantcarbon_core.settings import load_settings

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


def build_dataset(plant_path: Path, readings: Path | None, lab: Path | None, stocks: Path | None) -> Dataset:
    """Every input validated before anything is computed; InputFileError with every mistake of every file."""
    try:
        plant = load_plant(plant_path)
        cfg, method = carbon_config(plant, str(plant_path))
    except (PlantFileError, CarbonConfigError) as exc:
        raise InputFileError(exc.errors) from None
    try:
        ctx = Context.load(plant, plant_path.parent, load_settings().data_dir)
    except (FactorFileError, ValueError) as exc:
        raise InputFileError([str(exc)]) from None
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
        raise InputFileError(errors)
    return ds


def load_dataset(plant_path: Path, readings: Path | None, lab: Path | None, stocks: Path | None) -> Dataset:
    """`build_dataset` for a command: the mistakes on stderr, then exit 1 with nothing computed."""
    try:
        return build_dataset(plant_path, readings, lab, stocks)
    except InputFileError as exc:
        raise _fail([*exc.errors, f"{len(exc.errors)} error(s): nothing computed"]) from None


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
    start, end = month_days(month)
    _report(plant, start, end, month, readings, lab, stocks, fmt, out)


@app.command()
def year(
    plant: Path = typer.Option(..., "--plant", "-p", help="The plant file (YAML) with its carbon: block."),
    year: int = typer.Option(..., "--year", min=2000, max=2099, help="The year (local calendar of the site)."),
    readings: Path | None = typer.Option(None, help="Meter export CSV: time, device, quantity, value."),
    lab: Path | None = typer.Option(None, help="Lab analyses and records (CSV or XLSX), every version."),
    stocks: Path | None = typer.Option(None, help="Stock balances per material and month (CSV or XLSX)."),
    fmt: str = typer.Option("json", "--format", help="json | csv | xlsx"),
    out: Path | None = typer.Option(None, help="Output file (default: stdout for json and csv)."),
) -> None:
    """A year's direct emissions (the sum of its days, as every month), boundaries and provenance."""
    _report(plant, dt.date(year, 1, 1), dt.date(year, 12, 31), str(year), readings, lab, stocks, fmt, out)


def _report(
    plant: Path,
    start: dt.date,
    end: dt.date,
    label: str,
    readings: Path | None,
    lab: Path | None,
    stocks: Path | None,
    fmt: str,
    out: Path | None,
) -> None:
    if fmt not in FORMATS:
        raise _fail([f"--format: {fmt!r}, need one of {', '.join(FORMATS)}"], 2)
    if fmt == "xlsx" and out is None:
        raise _fail(["--format xlsx needs --out FILE.xlsx"], 2)
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
            f"{out}: {u.unit.id} {label}: clinker {u.clinker_t:.1f} t, direct CO2 {u.direct_co2_t:.1f} t "
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
    from metering.direct.service import recompute_direct
    from plantcarbon_core.influx import InfluxTarget

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


@app.command("lab-check")
def lab_check(
    plant: Path = typer.Option(..., "--plant", "-p", help="The plant file (YAML) with its carbon: block."),
    lab: Path = typer.Option(..., help="Lab analyses and records (CSV or XLSX)."),
) -> None:
    """Validate a lab file: every mistake named by row and field; prints the current values when it is clean."""
    ds = load_dataset(plant, None, lab, None)
    cur = ds.lab.current
    corrected = int((cur["version"] > 1).sum())
    typer.echo(f"{lab}: OK — {len(ds.lab.history)} rows, {len(cur)} current values, {corrected} corrected")


@app.command("lab-correct")
def lab_correct(
    plant: Path = typer.Option(..., "--plant", "-p", help="The plant file (YAML) with its carbon: block."),
    lab: Path = typer.Option(..., help="The lab file (CSV) to add the correction to; rewritten atomically."),
    sample: str = typer.Option(..., help="Sample id."),
    parameter: str = typer.Option(..., help="Parameter of the sample to correct."),
    value: float = typer.Option(..., help="The corrected value, in the method's unit."),
    reason: str = typer.Option(..., help="Why (kept with the new version)."),
    by: str = typer.Option(..., "--by", help="Who enters the correction."),
) -> None:
    """Correct a lab value: a new version with its reason; the earlier versions stay in the file."""
    from metering.direct.lab import correct, save_lab

    if lab.suffix.lower() != ".csv":
        raise _fail([f"{lab}: corrections are written to CSV lab files only"], 2)
    ds = load_dataset(plant, None, lab, None)
    if not reason.strip() or not by.strip():
        raise _fail(["--reason and --by must not be empty"], 2)
    try:
        book = correct(ds.lab, sample, parameter, value, reason, by, ds.cfg, ds.method)
    except InputFileError as exc:
        raise _fail(exc.errors) from None
    save_lab(book, lab)
    cur = book.current
    new = cur[(cur["sample_id"] == sample) & (cur["parameter"] == parameter)].iloc[0]
    typer.echo(f"{lab}: {sample} {parameter} is now {new['value']:g} (version {new['version']}, by {by}: {reason})")


@app.command()
def explain(
    plant: Path = typer.Option(..., "--plant", "-p", help="The plant file (YAML) with its carbon: block."),
    month: str = typer.Option(..., "--month", help="The month, YYYY-MM."),
    unit: str = typer.Option(..., help="Emission unit id."),
    readings: Path | None = typer.Option(None, help="Meter export CSV: time, device, quantity, value."),
    lab: Path | None = typer.Option(None, help="Lab analyses and records (CSV or XLSX)."),
    stocks: Path | None = typer.Option(None, help="Stock balances (CSV or XLSX)."),
) -> None:
    """How a unit's month was computed: each source's formula and every parameter with its basis and provenance."""
    start, end = month_days(month)
    ds = load_dataset(plant, readings, lab, stocks)
    try:
        ds.cfg.unit(unit)
    except KeyError:
        raise _fail(
            [f"--unit: no emission unit {unit!r} (units: {', '.join(u.id for u in ds.cfg.units)})"], 2
        ) from None
    acc = account(ds, start, end)
    u = next(r for r in acc.units if r.unit.id == unit)
    for line in explain_lines(u, acc.method, ds):
        typer.echo(line)


def explain_lines(u: UnitResult, method_ref: str, ds: Dataset) -> list[str]:
    out = [
        f"{u.unit.id} {u.unit.name}: method {method_ref} — {ds.method.document}",
        f"  direct CO2 {u.direct_co2_t:.3f} t = fuel {u.fuel_co2_t:.3f} + process {u.process_co2_t:.3f}; "
        f"clinker {u.clinker_t:.3f} t; intensity {u.intensity:.5f} tCO2/t",
    ]
    for s in ds.method.sources:
        status = "counted" if s.counted else "memo, not counted"
        clause = s.clause.text + ("" if s.clause.confirmed else " [unconfirmed]")
        out.append(f"  source {s.id} ({status}): {s.formula} — {clause}")
    out.append("  parameters:")
    for p in u.params:
        out.append(f"    {p.material} {p.name} = {p.value:.6g} {p.unit} [{p.basis}]")
        out.extend(f"      {line}" for line in p.provenance)
    out.extend(f"  missing: {m}" for m in u.missing)
    out.extend(
        f"  reconciliation {r['material']}: metered {r['metered_t']:.3f} t, stock {r['stock_t']:.3f} t, "
        f"{r['difference_pct']:+.2f} % ({'flagged' if r['flagged'] else 'within'} {r['threshold_pct']:g} %)"
        for r in u.reconciliation
    )
    return out


@app.command()
def run(
    plant: Path = typer.Option(..., "--plant", "-p", help="The plant file (YAML) with its carbon: block."),
    lab: Path | None = typer.Option(None, help="Lab analyses and records (CSV or XLSX), every version."),
    stocks: Path | None = typer.Option(None, help="Stock balances per material and month (CSV or XLSX)."),
    every_s: float = typer.Option(3600, "--every-s", min=10, help="Seconds between runs."),
    lateness_s: float = typer.Option(1800, "--lateness-s", min=0, help="A day is closed this long after midnight."),
    once: bool = typer.Option(False, "--once", help="One run, then exit."),
) -> None:
    """Live: recompute the month to date from InfluxDB on a timer and write measurement `direct`."""
    from metering.direct.service import run_live
    from plantcarbon_core.influx import InfluxTarget

    load_dataset(plant, None, lab, stocks)  # refuse to start on bad input; later runs reload and report
    run_live(
        lambda: build_dataset(plant, None, lab, stocks),
        InfluxTarget.from_settings(load_settings()),
        every=pd.Timedelta(seconds=every_s),
        lateness=pd.Timedelta(seconds=lateness_s),
        once=once,
        report=typer.echo,
    )
