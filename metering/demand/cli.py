"""`plantcarbon demand`: 15-minute demand of a meter from InfluxDB, the month maximum, the demand charge."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer

from metering.demand import block_demand, demand_charge, live_forecast, month_max, sliding_demand
from metering.demand.io import demand_lines, read_site_power_1m, write_demand
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.plant_cli import load_plant_or_exit
from plantcarbon_core.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@app.command()
def show(
    plant: Path = typer.Argument(..., help="The plant file."),
    start: str = typer.Option(..., "--from", help="Start (ISO date/time; site time zone if naive)."),
    end: str = typer.Option(..., "--to", help="End (exclusive)."),
    device: list[str] = typer.Option([], help="Meter id(s); default: every main electricity meter (the site)."),
    write: bool = typer.Option(
        False, help="Also write block, sliding and forecast points to the `demand` measurement."
    ),
) -> None:
    """Block and sliding 15-minute demand, the month maxima and pre-alarms for a meter or the site."""
    p = load_plant_or_exit(plant)
    tz = p.site.timezone
    t0, t1 = (pd.Timestamp(x).tz_localize(tz) if pd.Timestamp(x).tz is None else pd.Timestamp(x) for x in (start, end))
    devices = device or [d.id for d in p.main_meters() if d.carrier == "electricity"]
    target = InfluxTarget.from_settings(load_settings())
    power = read_site_power_1m(target, p.site.id, devices, t0, t1)
    block, sliding = block_demand(power), sliding_demand(power)
    name = devices[0] if len(devices) == 1 else sc.SITE_TOTAL_DEVICE
    for label, d in (("block", block), ("sliding", sliding)):
        for _, row in month_max(d, tz).iterrows():
            print(f"{name} {row['month']} max {label} demand {row['max_kw']:.1f} kW at {row['at']:%Y-%m-%d %H:%M}")
    limit = p.contract.demand_limit_kw
    fc = None
    if limit is not None:
        fc = live_forecast(power, limit_kw=limit, margin_pct=p.contract.prealarm_margin_pct)
        n = int(fc.groupby("window_end")["prealarm"].any().sum()) if not fc.empty else 0
        print(f"{name} blocks with a pre-alarm (limit {limit:.0f} kW, margin {p.contract.prealarm_margin_pct} %): {n}")
    if write:
        n = write_demand(
            target, demand_lines(p.site.id, name, block=block, sliding=sliding, forecast=fc, limit_kw=limit)
        )
        print(f"wrote {n} demand points")


@app.command()
def watch(
    plant: Path = typer.Argument(..., help="The plant file."),
    seconds: float = typer.Option(0, help="Stop after this many seconds (0: until interrupted)."),
) -> None:
    """Every minute: forecast the running 15-minute block, pre-alarm and load to shed; write `demand`."""
    import time

    from metering.demand.live import live_step

    p = load_plant_or_exit(plant)
    target = InfluxTarget.from_settings(load_settings())
    t_end = time.monotonic() + seconds if seconds else float("inf")
    alarmed: set[str] = set()
    try:
        while time.monotonic() < t_end:
            for d in live_step(target, p, pd.Timestamp.now(tz="UTC")):
                if d.prealarm and d.device not in alarmed:
                    print(
                        f"{d.now:%H:%M} PRE-ALARM {d.device}: forecast {d.forecast_kw:.0f} kW, "
                        f"limit {d.limit_kw:.0f} kW, shed {d.shed_kw:.0f} kW"
                    )
                (alarmed.add if d.prealarm else alarmed.discard)(d.device)
            time.sleep(max(0.0, 60 - time.time() % 60 + 1))  # just after the next minute
    except KeyboardInterrupt:
        pass


@app.command()
def charge(
    max_kw: float = typer.Option(..., help="The month's maximum demand (kW)."),
    price: float = typer.Option(..., help="Demand price, currency per kW-month."),
    contract_kw: float | None = typer.Option(None, help="Contract maximum demand (kW); omit for --mode actual."),
    capacity_kva: float | None = typer.Option(
        None, help="Transformers + HV motors capacity (kVA), for the 40 % floor."
    ),
    mode: str = typer.Option("contract", help="contract (1583号 rules) | actual."),
) -> None:
    """The month's demand charge under China's two-part tariff (105 % threshold, 40 % floor)."""
    if mode not in ("contract", "actual"):
        typer.echo(f"--mode must be contract or actual, got {mode!r}", err=True)
        raise typer.Exit(2)
    try:
        c = demand_charge(max_kw, price, mode=mode, contract_kw=contract_kw, capacity_kva=capacity_kva)  # type: ignore[arg-type]
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    print(json.dumps(c.as_dict(), indent=2))
