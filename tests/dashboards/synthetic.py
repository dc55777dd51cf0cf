"""Realistic synthetic rows for a plant, per docs/design.md's InfluxDB schema, for the dashboard tests.

Stands in for simulator history (issue 3) until that lands: two days of 1-minute readings for
every metered device (the quantities its profile or MQTT map reports), device status,
ingest quality and dead letters in `raw`; 15-minute energy, emissions (both scope 2 methods,
sub-meters too), demand, one DR event and alert state changes in `metering`.
Returns what it wrote, so tests can compute expected figures from the same rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from dashboards.generate import reported_quantities, site_demand_device
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget, line, write_lines
from plantcarbon_core.plant import Plant

MIN = 60_000
QUARTER = 15 * MIN
GRID_FACTOR = 0.5306  # kg CO2/kWh: MEE 2023 national grid average (used only as plausible test data)
GAS_FACTOR = 2.162  # kg CO2/Nm3 natural gas, plausible test data
TCE_PER_KWH = 0.1229  # kgce/kWh, GB/T 2589-2020 equivalent value


@dataclass
class Written:
    now_ms: int
    emissions: list[tuple[int, str, str, str, float]] = field(default_factory=list)  # ts, device, scope, method, co2
    offline: set[str] = field(default_factory=set)


def _value(q: str, rated: float, t: float, dev_index: int) -> float:
    day = (t / 86_400_000) % 1
    load = 0.55 + 0.3 * math.sin(2 * math.pi * (day - 0.25)) + 0.05 * math.sin(t / 600_000 + dev_index)
    p = rated * max(load, 0.05)
    table = {
        "p_kw": p,
        "p_l1_kw": p / 3,
        "p_l2_kw": p / 3,
        "p_l3_kw": p / 3,
        "s_kva": p / 0.92,
        "q_kvar": p * 0.42,
        "pf": 0.92,
        "f_hz": 50.0 + 0.02 * math.sin(t / 60_000),
        "v_l1_v": 230.5,
        "v_l2_v": 231.0,
        "v_l3_v": 229.8,
        "v_l12_v": 399.5,
        "v_l23_v": 400.2,
        "v_l31_v": 398.9,
        "i_l1_a": p / 0.69,
        "i_l2_a": p / 0.69,
        "i_l3_a": p / 0.69,
        "i_n_a": 3.0,
        "e_imp_kwh": 1_000_000 + t / 3_600_000 * rated * 0.55,
        "e_exp_kwh": 10_000 + t / 3_600_000 * rated * 0.1,
        "eq_imp_kvarh": 300_000 + t / 3_600_000 * rated * 0.2,
        "eq_exp_kvarh": 1_000.0,
    }
    return float(table.get(q, 1.0))


def fill(plant: Plant, target: InfluxTarget, now: datetime, days: int = 2) -> Written:
    now_ms = int(now.timestamp() * 1000) // MIN * MIN
    start = now_ms - days * 86_400_000
    out = Written(now_ms=now_ms)
    site = plant.site.id
    raw: list[str] = []
    metered = [d for d in plant.devices if d.source is not None]
    # The last metered device went offline 3 minutes ago: the overview must count it.
    offline = metered[-1].id if metered else ""
    out.offline = {offline} if offline else set()
    for i, d in enumerate(metered):
        rated = d.rated_kw or 500.0
        tags = {"site": site, "area": d.area, "device": d.id, "kind": d.kind, "edge": "edge-01"}
        quantities = reported_quantities(d)
        for t in range(start, now_ms + 1, MIN):
            fields = {q: _value(q, rated, t, i) for q in quantities}
            raw.append(line(d.carrier, tags, fields, t))
            online = not (d.id == offline and t > now_ms - 3 * MIN)
            raw.append(
                line(
                    sc.DEVICE_STATUS,
                    {"site": site, "device": d.id, "edge": "edge-01"},
                    {"online": online, "poll_ms": 12.0 + i, "errors": 0 if online else 3},
                    t,
                )
            )
        for t in range(start, now_ms, QUARTER):
            expected = 900 if d.source.interval_s <= 1 else int(900 / d.source.interval_s)
            samples = expected - (i * 3 + (t // QUARTER) % 4)
            # Two ingest processes share the subscription: each counts the part it saw.
            for k, share in enumerate((samples // 2, samples - samples // 2)):
                raw.append(
                    line(
                        sc.INGEST_QUALITY,
                        {"site": site, "device": d.id, "ingest": f"ingest-{k + 1}"},
                        {
                            "samples": float(share),
                            "expected": float(expected),
                            "completeness_pct": 100.0 * share / expected,
                            "seq_gaps": float((t // QUARTER) % 3 * k),
                            "duplicates": float((t // QUARTER) % 2 * k),
                        },
                        t,
                    )
                )
    for t in range(start, now_ms, QUARTER):
        raw.append(line(sc.DEAD_LETTERS, {"component": "ingest", "reason": "bad_json"}, {"count": 2}, t))
        raw.append(line(sc.DEAD_LETTERS, {"component": "ingest", "reason": "unknown_device"}, {"count": 1}, t))
    write_lines(target, target.raw_bucket, raw)

    met: list[str] = []
    bands = ("valley", "flat", "peak", "sharp")
    for i, d in enumerate(plant.devices):
        if d.source is None:
            continue
        rated = d.rated_kw or 500.0
        for t in range(start, now_ms, QUARTER):
            hour = (t // 3_600_000) % 24
            tou = bands[min(hour // 6, 3)]
            amount = _value("p_kw", rated, t, i) / 4
            unit = "kWh" if d.carrier == "electricity" else "Nm3"
            tce = amount * (TCE_PER_KWH if unit == "kWh" else 1.33)
            met.append(
                line(
                    sc.ENERGY,
                    {"site": site, "area": d.area, "device": d.id, "carrier": d.carrier, "role": d.role, "tou": tou},
                    {"amount": amount, "unit": unit, "tce_kg": tce, "cost": amount * 0.7},
                    t,
                )
            )
            # As metering writes them: location-based scope 2 for every row, market-based for main
            # meters only, scope 1 with no method tag.
            if d.carrier == "electricity":
                rows = [(sc.SCOPE_2, sc.LOCATION, amount * GRID_FACTOR)]
                if d.role == "main":
                    rows.append((sc.SCOPE_2, sc.MARKET, amount * GRID_FACTOR * 0.8))
            else:
                rows = [(sc.SCOPE_1, "", amount * GAS_FACTOR)]
            for scope, method, co2 in rows:
                met.append(
                    line(
                        sc.EMISSIONS,
                        {
                            "site": site,
                            "area": d.area,
                            "device": d.id,
                            "carrier": d.carrier,
                            "role": d.role,
                            "scope": scope,
                            "method": method,
                        },
                        {"co2_kg": co2, "co2e_kg": co2 * 1.002, "factor": "cn-grid-2023@1" if scope == "2" else "ng@1"},
                        t,
                    )
                )
                out.emissions.append((t, d.id, scope, method, co2))
    limit = plant.contract.demand_limit_kw or 4000.0
    for t in range(start, now_ms, QUARTER):
        demand = limit * (0.7 + 0.25 * math.sin(t / 7_200_000))
        met.append(
            line(
                sc.DEMAND,
                {"site": site, "device": site_demand_device(plant)},
                {"demand_kw": demand, "sliding_kw": demand * 1.01, "forecast_kw": demand * 1.02, "limit_kw": limit},
                t,
            )
        )
    event_start = now_ms - 6 * 3_600_000
    for t in range(event_start - event_start % QUARTER, event_start + 2 * 3_600_000, QUARTER):
        met.append(
            line(
                sc.DR,
                {"site": site, "event": "dr-evening-peak"},
                {"baseline_kw": 3000.0, "actual_kw": 2400.0, "reduction_kw": 600.0},
                t,
            )
        )
    for k, (state, value) in enumerate((("firing", 4120.0), ("acknowledged", 4090.0), ("resolved", 3700.0))):
        t = now_ms - (5 - k) * 3_600_000
        met.append(
            line(
                sc.ALERTS,
                {"site": site, "rule": "site-demand-high", "severity": "critical"},
                {
                    "state": state,
                    "value": value,
                    "threshold": 4000.0,
                    "message": f"site demand {value:.0f} kW against 4000 kW",
                },
                t,
            )
        )
    met.append(
        line(
            sc.ALERTS,
            {"site": site, "rule": "tr-01-pf-low", "severity": "warning"},
            {"state": "firing", "value": 0.84, "threshold": 0.9, "message": "power factor 0.84 < 0.90"},
            now_ms - 2 * 3_600_000,
        )
    )
    write_lines(target, target.metering_bucket, met)
    return out
