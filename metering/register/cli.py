"""`plantcarbon register list|plan --plant P --format table|csv|xlsx`: the device register and the data-quality plan.

The register's edits live in the metering state database (`--state`, default: the API's SQLite
file in the data directory), so the CLI shows what the API shows; instruments of the plant file
not yet in the database are added first (as the API does at start).
"""

from __future__ import annotations

import datetime as dt
import io
from enum import StrEnum
from pathlib import Path

import pandas as pd
import typer
from openpyxl import Workbook
from rich.console import Console
from rich.table import Table

from metering.register.checks import DEFAULT_DUE_WITHIN_DAYS
from metering.register.model import Entry
from metering.register.plan import COLUMNS, build_plan, plan_csv, plan_frame, plan_xlsx
from metering.register.store import RegisterStore
from metering.state.store import Store
from plantcarbon_core.plant import Plant, PlantFileError, load_plant
from plantcarbon_core.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


class Format(StrEnum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"


PLANT = typer.Option(..., "--plant", "-p", help="The plant file (YAML).")
FORMAT = typer.Option(Format.table, "--format", "-f", help="table (terminal), csv or xlsx.")
OUT = typer.Option(None, "--out", "-o", help="File to write (csv, xlsx); default: standard output for csv.")
STATE = typer.Option(None, "--state", help="State database: SQLAlchemy URL or SQLite file (default: the API's).")
AS_OF = typer.Option(None, "--as-of", help="Judge calibrations on this day, YYYY-MM-DD (default: the site's today).")


def _load(plant_file: Path, state: str | None) -> tuple[Plant, list[Entry]]:
    try:
        plant = load_plant(plant_file)
    except PlantFileError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None
    if state is None:
        d = load_settings().data_dir
        d.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{d / 'metering-state.sqlite'}"
    else:
        url = state if "://" in state else f"sqlite:///{Path(state)}"
    store = Store(url)
    try:
        reg = RegisterStore(store)
        reg.sync(plant, actor="cli")
        return plant, reg.list(plant.site.id)
    finally:
        store.close()


def register_frame(entries: list[Entry], today: dt.date, due_within_days: int) -> pd.DataFrame:
    """One row per entry with its due date, calibration state, GB 17167 verdict and missing fields."""
    rows = []
    for e in entries:
        due = e.due()
        c = e.gb17167()
        verdict = "" if c is None else c.verdict + (f" (needs {c.required})" if c.required else "")
        rows.append(
            {
                "id": e.id,
                "instrument": e.instrument,
                "model": e.model,
                "serial": e.serial,
                "location": e.location,
                "parameter": e.parameter,
                "place": e.place or "",
                "class": e.accuracy_class,
                "gb17167": verdict,
                "last_calibration": e.last_calibration.isoformat() if e.last_calibration else "",
                "due": due.isoformat() if due else "",
                "state": e.calibration_state(today, due_within_days),
                "certificate": e.certificate,
                "owner": e.owner,
                "missing": ", ".join(e.missing()),
            }
        )
    return pd.DataFrame(rows)


def _emit(df: pd.DataFrame, fmt: Format, out: Path | None, title: str, xlsx: bytes | None = None) -> None:
    if fmt is Format.table:
        t = Table(title=title)
        for c in df.columns:
            t.add_column(str(c), overflow="fold")
        for row in df.itertuples(index=False):
            t.add_row(*[str(v) for v in row])
        Console().print(t)
        return
    if fmt is Format.csv:
        data = df.to_csv(index=False).encode("utf-8-sig")
    else:
        if xlsx is None:
            wb = Workbook()
            ws = wb.active
            assert ws is not None
            ws.append(list(df.columns))
            for row in df.itertuples(index=False):
                ws.append(list(row))
            buf = io.BytesIO()
            wb.save(buf)
            xlsx = buf.getvalue()
        data = xlsx
        if out is None:
            typer.echo("xlsx needs --out FILE", err=True)
            raise typer.Exit(2)
    if out is None:
        typer.echo(data.decode("utf-8-sig"), nl=False)
    else:
        out.write_bytes(data)
        typer.echo(f"wrote {out}", err=True)


@app.command("list")
def list_cmd(
    plant: Path = PLANT,
    format: Format = FORMAT,
    out: Path | None = OUT,
    state: str | None = STATE,
    as_of: str | None = AS_OF,
    due_within_days: int = typer.Option(DEFAULT_DUE_WITHIN_DAYS, help="Days before the due date that count as due."),
) -> None:
    """The device register: instruments and lab methods, calibration state, GB 17167 verdict, what is missing."""
    p, entries = _load(plant, state)
    today = dt.date.fromisoformat(as_of) if as_of else dt.datetime.now(p.site.tz).date()
    _emit(register_frame(entries, today, due_within_days), format, out, f"Register of {p.site.id} as of {today}")


@app.command("plan")
def plan_cmd(plant: Path = PLANT, format: Format = FORMAT, out: Path | None = OUT, state: str | None = STATE) -> None:
    """The data-quality control plan (数据质量控制计划): parameter → source, frequency, missing-data rule, owner."""
    p, entries = _load(plant, state)
    rows = build_plan(p, entries)
    title = f"数据质量控制计划 Data-quality control plan — {p.site.name} ({p.site.id})"
    if format is Format.csv:
        _emit_bytes(plan_csv(rows), out)
    elif format is Format.xlsx:
        _emit(plan_frame(rows), format, out, title, plan_xlsx(rows, title))
    else:
        _emit(plan_frame(rows).rename(columns=COLUMNS), format, out, title)


def _emit_bytes(data: bytes, out: Path | None) -> None:
    if out is None:
        typer.echo(data.decode("utf-8-sig"), nl=False)
    else:
        out.write_bytes(data)
        typer.echo(f"wrote {out}", err=True)
