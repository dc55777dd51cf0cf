"""`plantcarbon compliance review|approve|revise|file|status|workbook|deadlines|year`: the month's workflow, offline.

The inputs are the files of `plantcarbon carbon month` (plant file, readings, lab, stocks);
the workflow's state lives in the metering state database (`--state`, default: the API's
SQLite file in the data directory), so the CLI and the API see the same months, revisions
and audit log. `--by` names who acts (written to the audit log).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

from metering.compliance.annual import annual_report
from metering.compliance.deadlines import deadline_view
from metering.compliance.rules import load_rules
from metering.compliance.store import ComplianceStore
from metering.compliance.workbook import build, save, scope_of
from metering.compliance.workflow import Evaluation, do_approve, do_review, do_revise, evaluate, status
from metering.direct.cli import load_dataset, month_days
from metering.evidence.store import EvidenceStore
from metering.state.store import Conflict, NotFound, Store
from plantcarbon_core.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)

PLANT = typer.Option(..., "--plant", "-p", help="The plant file (YAML) with its carbon: block.")
MONTH = typer.Option(..., "--month", help="The month, YYYY-MM (local calendar of the site).")
UNIT = typer.Option(..., "--unit", help="Emission unit id.")
READINGS = typer.Option(None, help="Meter export CSV: time, device, quantity, value.")
LAB = typer.Option(None, help="Lab analyses and records (CSV or XLSX), every version.")
STOCKS = typer.Option(None, help="Stock balances per material and month (CSV or XLSX).")
STATE = typer.Option(None, "--state", help="State database: SQLAlchemy URL or SQLite file (default: the API's).")
BY = typer.Option(..., "--by", help="Who acts (kept in the audit log).")


def _fail(lines: list[str], code: int = 1) -> typer.Exit:
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(code)


def _store(state: str | None) -> ComplianceStore:
    if state is None:
        d = load_settings().data_dir
        d.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{d / 'metering-state.sqlite'}"
    else:
        url = state if "://" in state else f"sqlite:///{Path(state)}"
    return ComplianceStore(Store(url))


def _evaluate(
    plant: Path, month: str, unit: str, readings: Path | None, lab: Path | None, stocks: Path | None
) -> tuple[str, Evaluation]:
    month_days(month)  # exits 2 on a bad month
    ds = load_dataset(plant, readings, lab, stocks)
    try:
        ds.cfg.unit(unit)
    except KeyError:
        raise _fail(
            [f"--unit: no emission unit {unit!r} (units: {', '.join(u.id for u in ds.cfg.units)})"], 2
        ) from None
    return ds.plant.site.id, evaluate(ds, unit, month)


def _by(by: str) -> str:
    if not by.strip() or len(by) > 64:
        raise _fail(["--by: a name of 1 to 64 characters"], 2)
    return by.strip()


def _print_review(ev: Evaluation) -> None:
    for i in ev.review.items:
        if i.status != "ok":
            typer.echo(f"  {i.status:8} {i.material} {i.parameter}: {i.note}")
    typer.echo(
        f"{ev.review.unit} {ev.review.month}: direct CO2 {ev.snapshot['figures']['direct_co2_t']:.3f} t, "
        + ("complete" if not ev.review.blocking else f"{len(ev.review.blocking)} blocking item(s)")
    )


@app.command()
def review(
    plant: Path = PLANT,
    month: str = MONTH,
    unit: str = UNIT,
    readings: Path | None = READINGS,
    lab: Path | None = LAB,
    stocks: Path | None = STOCKS,
    state: str | None = STATE,
    by: str = BY,
) -> None:
    """Completeness review per parameter (missing days, defaults, gap fills by rule); the month goes in review."""
    site, ev = _evaluate(plant, month, unit, readings, lab, stocks)
    try:
        do_review(_store(state), site, ev, _by(by))
    except Conflict as exc:
        raise _fail([str(exc)]) from None
    _print_review(ev)


@app.command()
def approve(
    plant: Path = PLANT,
    month: str = MONTH,
    unit: str = UNIT,
    readings: Path | None = READINGS,
    lab: Path | None = LAB,
    stocks: Path | None = STOCKS,
    state: str | None = STATE,
    by: str = BY,
) -> None:
    """Approve and lock the month (revision 1): its figures and the input versions they came from."""
    site, ev = _evaluate(plant, month, unit, readings, lab, stocks)
    try:
        m = do_approve(_store(state), site, ev, _by(by))
    except Conflict as exc:
        raise _fail([str(exc)]) from None
    typer.echo(
        f"{unit} {month}: approved, locked as revision {m['revision']} "
        f"(direct CO2 {ev.snapshot['figures']['direct_co2_t']:.3f} t)"
    )


@app.command()
def revise(
    plant: Path = PLANT,
    month: str = MONTH,
    unit: str = UNIT,
    readings: Path | None = READINGS,
    lab: Path | None = LAB,
    stocks: Path | None = STOCKS,
    state: str | None = STATE,
    by: str = BY,
    reason: str = typer.Option(..., help="Why the locked month changes (late lab value, meter fix, factor)."),
) -> None:
    """A new locked revision of an approved or filed month, with its reason, when the recompute differs."""
    site, ev = _evaluate(plant, month, unit, readings, lab, stocks)
    try:
        m = do_revise(_store(state), site, ev, reason, _by(by))
    except (Conflict, ValueError) as exc:
        raise _fail([str(exc)]) from None
    typer.echo(f"{unit} {month}: revision {m['revision']} locked ({reason.strip()})")


@app.command("file")
def file_month(
    plant: Path = PLANT,
    month: str = MONTH,
    unit: str = UNIT,
    state: str | None = STATE,
    by: str = BY,
    reference: str = typer.Option(..., help="The filing's receipt or reference on the platform."),
) -> None:
    """Mark an approved month filed, with the platform's reference."""
    month_days(month)
    ds = load_dataset(plant, None, None, None)
    if not reference.strip() or len(reference) > 128:
        raise _fail(["--reference: 1 to 128 characters"], 2)
    try:
        _store(state).file(ds.plant.site.id, unit, month, reference.strip(), _by(by))
    except (Conflict, NotFound) as exc:
        raise _fail([str(exc)]) from None
    typer.echo(f"{unit} {month}: filed ({reference.strip()})")


def _json(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, indent=1, default=str)


@app.command("status")
def status_cmd(
    plant: Path = PLANT,
    month: str = MONTH,
    unit: str = UNIT,
    readings: Path | None = READINGS,
    lab: Path | None = LAB,
    stocks: Path | None = STOCKS,
    state: str | None = STATE,
) -> None:
    """State, revisions side by side with their diffs, and whether a recompute differs from the locked revision."""
    site, ev = _evaluate(plant, month, unit, readings, lab, stocks)
    typer.echo(_json(status(_store(state), site, unit, month, ev)))


@app.command()
def workbook(
    plant: Path = PLANT,
    month: str = MONTH,
    unit: str = UNIT,
    readings: Path | None = READINGS,
    lab: Path | None = LAB,
    stocks: Path | None = STOCKS,
    state: str | None = STATE,
    out: Path = typer.Option(..., help="The XLSX file to write."),
    rule: str | None = typer.Option(None, help="Deadline rule id (rules.yaml); default: the file's default."),
) -> None:
    """The monthly filing workbook (XLSX, 简体中文 / English) of the unit's month."""
    site, ev = _evaluate(plant, month, unit, readings, lab, stocks)
    try:
        _, r = load_rules().deadlines.rule(rule)
    except KeyError as exc:
        raise _fail([f"--rule: {exc.args[0]}"], 2) from None
    cs = _store(state)
    st = status(cs, site, unit, month, ev)
    # The evidence files uploaded through the API to the same state database (their metadata only).
    files = EvidenceStore(cs.store, load_settings().data_dir / "evidence").for_links(scope_of(ev).candidates())
    save(build(ev, site, st, r.due(month).isoformat(), evidence=files), out)
    typer.echo(f"{out}: {unit} {month} ({st['state']}, revision {st['revision']})")


@app.command()
def year(
    plant: Path = PLANT, unit: str = UNIT, year: int = typer.Option(..., min=2000, max=2099), state: str | None = STATE
) -> None:
    """The unit's annual report from its locked months (latest revision of each); months not locked are listed."""
    ds = load_dataset(plant, None, None, None)
    typer.echo(_json(annual_report(_store(state), ds.plant.site.id, unit, year)))


@app.command()
def deadlines(
    plant: Path = PLANT,
    unit: str = UNIT,
    year: int = typer.Option(..., min=2000, max=2099),
    state: str | None = STATE,
    rule: str | None = typer.Option(None, help="Deadline rule id (rules.yaml)."),
    as_of: str | None = typer.Option(None, "--as-of", help="The day overdue is judged on (default: today, UTC)."),
) -> None:
    """Each month's due date, state and what is missing."""
    ds = load_dataset(plant, None, None, None)
    site = ds.plant.site.id
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.datetime.now(dt.UTC).date()
    except ValueError:
        raise _fail([f"--as-of: {as_of!r} is not YYYY-MM-DD"], 2) from None
    cs = _store(state)
    states = {m["month"]: m for m in cs.list_months(site, unit)}
    try:
        typer.echo(_json(deadline_view(year, unit, states, day, rule)))
    except KeyError as exc:
        raise _fail([f"--rule: {exc.args[0]}"], 2) from None
