"""`plantcarbon dr`: create and list DR events, listen for them on MQTT, verify an event and report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import typer
from prometheus_client import CollectorRegistry

from metering.dr.baselines import BaselineContext, BaselineError
from metering.dr.events import EventError, parse_event
from metering.dr.intake import DrIntake
from metering.dr.service import verify_event
from metering.dr.store import EventStore
from metering.dr.verify import write_report
from metering.tariffs import load_calendar
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.liveness import serve
from plantcarbon_core.mqtt import BrokerConfig
from plantcarbon_core.plant_cli import load_plant_or_exit
from plantcarbon_core.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)

DbOption = typer.Option(None, help="Event database (SQLite); default <data_dir>/dr.sqlite.")


def _store(db: Path | None) -> EventStore:
    return EventStore(db or load_settings().data_dir / "dr.sqlite")


@app.command()
def create(
    site: str = typer.Option(...),
    start: str = typer.Option(..., help="ISO time with offset, e.g. 2025-07-15T14:00:00+08:00."),
    end: str = typer.Option(...),
    meter: list[str] = typer.Option(..., help="Participating meter id (repeat)."),
    reduction_kw: float | None = typer.Option(None, help="Requested reduction below the baseline (kW)."),
    target_kw: float | None = typer.Option(None, help="Or: the load to stay at or below (kW)."),
    baseline: str = typer.Option("10of10", help="10of10 | high4of5 | similar_day | regression."),
    min_performance_pct: float = typer.Option(80.0),
    max_performance_pct: float = typer.Option(120.0),
    payment_rate: float = typer.Option(0.0, help="Currency per kW (per event) or per kWh, see --payment-basis."),
    payment_basis: str = typer.Option("kw"),
    event_id: str | None = typer.Option(None, "--id"),
    db: Path | None = DbOption,
) -> None:
    """Create a DR event and store it."""
    doc: dict[str, object] = {
        "site": site, "start": start, "end": end, "meters": meter,
        "programme": {
            "baseline": baseline, "min_performance_pct": min_performance_pct,
            "max_performance_pct": max_performance_pct, "payment_rate": payment_rate, "payment_basis": payment_basis,
        },
    }  # fmt: skip
    if reduction_kw is not None:
        doc["requested_reduction_kw"] = reduction_kw
    if target_kw is not None:
        doc["target_kw"] = target_kw
    if event_id:
        doc["id"] = event_id
    try:
        ev = parse_event(doc, source="cli")
    except EventError as exc:
        typer.echo(f"invalid event: {exc}", err=True)
        raise typer.Exit(2) from None
    _store(db).add(ev)
    print(ev.id)


@app.command("list")
def list_(site: str | None = typer.Option(None), db: Path | None = DbOption) -> None:
    """List stored events."""
    for ev in _store(db).list(site):
        req = f"-{ev.requested_reduction_kw} kW" if ev.requested_reduction_kw else f"≤{ev.target_kw} kW"
        window = f"{ev.start.isoformat()} → {ev.end.isoformat()}"
        print(f"{ev.id}  {ev.site}  {window}  {req}  {ev.programme.baseline}  {ev.status}  ({ev.source})")


@app.command()
def cancel(event_id: str, db: Path | None = DbOption) -> None:
    """Cancel an event."""
    try:
        _store(db).set_status(event_id, "cancelled")
    except KeyError:
        typer.echo(f"no event {event_id!r}", err=True)
        raise typer.Exit(1) from None


@app.command()
def listen(
    seconds: float = typer.Option(0, help="Stop after this many seconds (0: until interrupted)."),
    db: Path | None = DbOption,
    health_port: int | None = typer.Option(
        None, min=0, max=65535, help="Serve /healthz and /metrics on 127.0.0.1:PORT (0: a free port)."
    ),
) -> None:
    """Take DR events from MQTT (pc/{site}/dr/events) into the event store."""
    s = load_settings()
    intake = DrIntake(_store(db), BrokerConfig.from_settings(s), s.mqtt_prefix)
    intake.start()
    if health_port is not None:
        server = serve(intake.liveness, CollectorRegistry(), health_port)
        print(f"health on http://127.0.0.1:{server.server_address[1]}/healthz", flush=True)
    try:
        t_end = time.monotonic() + seconds if seconds else float("inf")
        while time.monotonic() < t_end:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        intake.stop()
    print(f"accepted {len(intake.accepted)}, rejected {dict(intake.rejected)}")


@app.command()
def verify(
    event_id: str,
    plant: Path = typer.Option(..., help="The plant file (time zone)."),
    out: Path = typer.Option(Path("."), help="Folder for <event>.json, .csv and .xlsx."),
    write: bool = typer.Option(True, help="Write the tracking to the `dr` measurement."),
    db: Path | None = DbOption,
) -> None:
    """Baseline, per-interval tracking and the performance report of an event."""
    p = load_plant_or_exit(plant)
    store = _store(db)
    try:
        ev = store.get(event_id)
    except KeyError:
        typer.echo(f"no event {event_id!r}", err=True)
        raise typer.Exit(1) from None
    others = frozenset(
        d for d in store.event_days(ev.site) if d != pd.Timestamp(ev.start).tz_convert(p.site.timezone).date()
    )
    ctx = BaselineContext(tz=p.site.timezone, calendar=load_calendar("cn"), event_days=others)
    try:
        v = verify_event(InfluxTarget.from_settings(load_settings()), ev, ctx, write=write)
    except BaselineError as exc:
        typer.echo(f"cannot compute the baseline: {exc}", err=True)
        raise typer.Exit(1) from None
    paths = write_report(v.report, v.tracking, out)
    print(json.dumps(v.report.as_dict(), indent=2, ensure_ascii=False))
    print("wrote " + ", ".join(str(x) for x in paths.values()))


@app.command()
def openadr(
    vtn_url: str = typer.Option(..., help="The VTN, e.g. https://vtn.example/OpenADR2/Simple/2.0b."),
    ven_name: str = typer.Option(..., help="This VEN's name as registered with the VTN."),
    site: str = typer.Option(...),
    meter: list[str] = typer.Option(..., help="Participating meter id (repeat)."),
    seconds: float = typer.Option(0, help="Stop after this many seconds (0: until interrupted)."),
    db: Path | None = DbOption,
) -> None:
    """Take DR events from an OpenADR 2.0b VTN (openleadr VEN) into the event store."""
    import asyncio

    from metering.dr.openadr import OadrVen

    async def run() -> OadrVen:
        ven = OadrVen(_store(db), vtn_url, ven_name=ven_name, site=site, meters=meter)
        await ven.start()
        try:
            await asyncio.sleep(seconds if seconds else float("inf"))
        finally:
            await ven.stop()
        return ven

    try:
        ven = asyncio.run(run())
    except KeyboardInterrupt:
        return
    print(f"accepted {len(ven.accepted)}, refused {dict(ven.rejected)}")
