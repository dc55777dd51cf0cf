"""Audit trail for one device and interval: readings → delta → energy → factor (with source) → CO2, as text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metering.carbon.energy import energy_quantity
from metering.carbon.intervals import INTERVAL_S, clean_counter, compute_intervals, epoch_seconds, series_meta
from metering.service import Context, compute_period


def explain(ctx: Context, readings: pd.DataFrame, device: str, interval: pd.Timestamp) -> list[str]:
    """Lines that walk one interval of one device from raw readings to CO2 (readings should span ±1 h)."""
    plant = ctx.plant
    dev = plant.device(device)
    start = pd.Timestamp(interval).tz_convert("UTC").floor(f"{INTERVAL_S}s")
    end = start + pd.Timedelta(seconds=INTERVAL_S)
    local = start.tz_convert(plant.site.timezone)
    out = [
        f"device {dev.id} ({dev.name}), carrier {dev.carrier}, role {dev.role}, area {dev.area}",
        f"interval {start.isoformat()} – {end.isoformat()} (local {local.isoformat()})",
        "",
    ]
    mine = readings[readings["device"] == device]
    iv = compute_intervals(readings, plant, start=start, end=end, options=ctx.options)
    mine_iv = iv[iv["device"] == device]
    qname = energy_quantity(dev, {str(q) for q in mine_iv["quantity"]})
    if qname is None:
        out.append("no counter or integrable gauge readings for this device around the interval")
        return out
    row = mine_iv[mine_iv["quantity"] == qname].iloc[0]
    raw_q = qname if row["source"] == "counter" else _gauge_of(mine, qname)
    series = mine[mine["quantity"] == raw_q].sort_values("time")
    near = series[
        (series["time"] >= start - pd.Timedelta(minutes=5)) & (series["time"] <= end + pd.Timedelta(minutes=5))
    ]
    out.append(f"1. readings of {raw_q} ({row['source']}) around the interval:")
    for t, v in zip(near["time"], near["value"], strict=True):
        out.append(f"   {pd.Timestamp(t).isoformat()}  {v:.6g}")
    if row["source"] == "counter" and len(series) >= 2:
        t_s, delta, est, events = clean_counter(
            epoch_seconds(series["time"]),
            series["value"].to_numpy(dtype=np.float64),
            series_meta(dev, raw_q),
            ctx.options,
        )
        inside = (t_s > start.timestamp()) & (t_s <= end.timestamp())
        out.append(
            f"2. accepted deltas: {np.round(delta[inside], 6).tolist()} (estimated steps: {int(est[inside].sum())})"
        )
        evs = [
            f"{pd.Timestamp(t, unit='s', tz='UTC').isoformat()} {n}"
            for t, n in events
            if start.timestamp() - 3600 <= t <= end.timestamp() + 3600
        ]
        if evs:
            out.append("   events: " + "; ".join(evs))
    out.append(
        f"3. interval amount: {row['amount']:.6g} {row['unit']} — status {row['status']}, "
        f"completeness {row['completeness']:.3f}{', events ' + row['events'] if row['events'] else ''}"
    )
    res = compute_period(ctx, readings, start, end)
    e = res.energy[res.energy["device"] == device]
    if not e.empty:
        er = e.iloc[0]
        out.append(
            f"4. energy: {er['amount']:.6g} {er['unit']}; "
            f"tce {er['tce_kg']:.6g} kgce ({er['tce_factor'] or 'no tce factor'})"
        )
        if er["tce_factor"]:
            out.append(f"   tce factor source: {ctx.registry.get(er['tce_factor']).source.cite()}")
    em = res.emissions[res.emissions["device"] == device]
    for _, r in em.iterrows():
        f = ctx.registry.get(r["factor"])
        label = f"scope {r['scope']}" + (f" {r['method']}" if r["method"] else "")
        out.append(
            f"5. {label}: {r['activity']:.6g} {r['activity_unit']} × {f.value:.6g} {f.unit} ({f.ref}) "
            f"= {r['co2_kg']:.6g} kg CO2; {r['co2e_kg']:.6g} kg CO2e ({r['gwp']})"
        )
        out.append(f"   source: {f.source.cite()}")
        if r.get("ncv"):
            out.append(f"   net calorific value: {r['ncv']}")
        if f.source.note:
            out.append(f"   note: {f.source.note}")
    for p in res.problems:
        out.append(f"! {p}")
    return out


def _gauge_of(readings: pd.DataFrame, counter: str) -> str:
    from metering.carbon.intervals import GAUGE_FOR_COUNTER

    for g, (c, _) in GAUGE_FOR_COUNTER.items():
        if c == counter and g in set(readings["quantity"]):
            return g
    return counter
