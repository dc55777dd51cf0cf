"""The control room's reads: a few InfluxQL queries per refresh, shaped by small pure functions.

I/O is in the `read_*` functions (one query each, values quoted with `quote_literal`); the
shaping (`power_trend`, `breakdown`, `sankey`, `health`, ...) is pure and takes frames.
Carbon is always per boundary: national carbon market direct emissions (fuel + process of the
emission units, from measurement `direct`), GB/T 32150 scope 1 (those plus the metering engine's
scope-1 rows of fuels no unit counts, e.g. a gas boiler), scope 2 location-based and scope 2
market-based are four separate figures, never added. A site total counts `role=main` rows only
(sub-meters are a breakdown of their parent).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from metering.carbon.energy import ENERGY_UNITS
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget, influxql, quote_ident, quote_literal
from plantcarbon_core.kinds import kinds
from plantcarbon_core.plant import Device, Plant, prealarm_threshold_kw

# Per device: the metering engine's rows (a device has no process emissions of its own).
BOUNDARIES = ("scope1", "scope2_location", "scope2_market")
# Site totals add the emission units' direct emissions (national carbon market boundary).
TOTAL_BOUNDARIES = ("ets_direct", *BOUNDARIES)
# How the four boundaries are labelled on the page (the API names them; the page translates).
BOUNDARY_METHOD = {
    "ets_direct": "national carbon market: direct emissions of the emission units (fuel combustion + process CO2, "
    "sector method; biogenic CO2 excluded); purchased electricity and heat excluded",
    "scope1": "GB/T 32150 scope 1: the emission units' direct emissions plus fuel burnt on site that no unit counts",
    "scope2_location": "scope 2, location-based (grid average factor)",
    "scope2_market": "scope 2, market-based (contracts and certificates, residual mix)",
}
SANKEY_CHILDREN = 8  # children shown per node; the rest are grouped as "N more"
SANKEY_NODES = 30  # nodes in the whole diagram, largest opened first: a panel reads ~30 labels, not 2,000
TOP_N = 10
BREAKDOWN_ROWS = 12  # bars in the by-area / by-kind chart; the smaller rest is one "N more" bar (2,000 devices)
NOT_FINE_SHOWN = 50  # devices listed by name in the health panel; the counts cover all of them


def _t(dt: datetime) -> str:
    return quote_literal(dt.isoformat().replace("+00:00", "Z"))


def _in(tag: str, values: list[str]) -> str:
    return "(" + (" OR ".join(f"{quote_ident(tag)} = {quote_literal(v)}" for v in values) or "false") + ")"


def _site(site: str) -> str:
    return f'"site" = {quote_literal(site)}'


# --- reads -------------------------------------------------------------------------------------


def read_power(target: InfluxTarget, site: str, mains: list[str], start: datetime, step_s: int) -> pd.DataFrame:
    """Mean `p_kw` of the main electricity meters per step since `start`, per device."""
    q = (
        f'SELECT mean("p_kw") AS "p_kw" FROM "electricity" WHERE {_site(site)} AND {_in("device", mains)} '
        f'AND time >= {_t(start)} GROUP BY time({int(step_s)}s), "device" fill(none)'
    )
    return influxql(target, q, target.raw_bucket)


def read_live_power(target: InfluxTarget, site: str, mains: list[str], window_s: int = 300) -> pd.DataFrame:
    """The newest `p_kw` of each main electricity meter seen in the last `window_s`."""
    q = (
        f'SELECT last("p_kw") AS "p_kw" FROM "electricity" WHERE {_site(site)} AND {_in("device", mains)} '
        f'AND time > now() - {int(window_s)}s GROUP BY "device"'
    )
    return influxql(target, q, target.raw_bucket)


def live_kw(df: pd.DataFrame) -> float | None:
    """Σ of the newest power of the main meters (None when none reported recently)."""
    if df.empty or "p_kw" not in df.columns:
        return None
    v = pd.to_numeric(df["p_kw"], errors="coerce").dropna()
    return round(float(v.sum()), 3) if not v.empty else None


def read_demand(target: InfluxTarget, site: str, start: datetime) -> pd.DataFrame:
    """Site-level demand rows (`device=_site`, or the only meter's rows on a one-meter plant) since `start`."""
    q = (
        'SELECT "demand_kw", "sliding_kw", "forecast_kw", "limit_kw", "prealarm", "device" '
        f"FROM {quote_ident(sc.DEMAND)} "
        f"WHERE {_site(site)} AND time >= {_t(start)}"
    )
    return influxql(target, q, target.metering_bucket)


def read_energy(target: InfluxTarget, site: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Energy per device and carrier over [start, end): amount, tce, cost, completeness and interval count."""
    q = (
        'SELECT sum("amount") AS "amount", sum("tce_kg") AS "tce_kg", sum("cost") AS "cost", '
        f'sum("completeness") AS "completeness", count("amount") AS "rows" FROM {quote_ident(sc.ENERGY)} '
        f'WHERE {_site(site)} AND time >= {_t(start)} AND time < {_t(end)} GROUP BY "device", "carrier", "role"'
    )
    return influxql(target, q, target.metering_bucket)


def read_emissions(target: InfluxTarget, site: str, start: datetime, end: datetime) -> pd.DataFrame:
    """CO2 per device, scope and method over [start, end) (scope 1 rows have an empty method)."""
    q = (
        f'SELECT sum("co2_kg") AS "co2_kg", sum("co2e_kg") AS "co2e_kg" FROM {quote_ident(sc.EMISSIONS)} '
        f"WHERE {_site(site)} AND time >= {_t(start)} AND time < {_t(end)} "
        'GROUP BY "device", "role", "scope", "method"'
    )
    return influxql(target, q, target.metering_bucket)


def read_last_rows(target: InfluxTarget, site: str, measurement: str, since: datetime) -> pd.DataFrame:
    """The newest row of every device in one raw measurement since `since` (time + all fields)."""
    q = (
        f"SELECT * FROM {quote_ident(measurement)} WHERE {_site(site)} AND time >= {_t(since)} "
        'GROUP BY "device" ORDER BY time DESC LIMIT 1'
    )
    return influxql(target, q, target.raw_bucket)


def read_last_seen(target: InfluxTarget, site: str, measurement: str, field: str, since: datetime) -> pd.DataFrame:
    """Time of the newest `field` per device since `since` (one selector: InfluxDB returns the point's time)."""
    q = (
        f'SELECT last({quote_ident(field)}) AS "v" FROM {quote_ident(measurement)} '
        f'WHERE {_site(site)} AND time >= {_t(since)} GROUP BY "device"'
    )
    return influxql(target, q, target.raw_bucket)


def read_device_last(target: InfluxTarget, site: str, device: Device, since: datetime) -> pd.DataFrame:
    """The newest raw row (time + every field) of one device."""
    q = (
        f'SELECT * FROM {quote_ident(device.carrier)} WHERE {_site(site)} AND "device" = {quote_literal(device.id)} '
        f"AND time >= {_t(since)} ORDER BY time DESC LIMIT 1"
    )
    return influxql(target, q, target.raw_bucket)


def read_device_series(
    target: InfluxTarget, site: str, device: Device, quantities: list[str], start: datetime, step_s: int
) -> pd.DataFrame:
    fields = ", ".join(f"mean({quote_ident(q)}) AS {quote_ident(q)}" for q in quantities)
    q = (
        f"SELECT {fields} FROM {quote_ident(device.carrier)} WHERE {_site(site)} "
        f'AND "device" = {quote_literal(device.id)} AND time >= {_t(start)} GROUP BY time({int(step_s)}s) fill(none)'
    )
    return influxql(target, q, target.raw_bucket)


# --- shaping (pure) ----------------------------------------------------------------------------


def num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def power_trend(df: pd.DataFrame, n_mains: int) -> list[list[Any]]:
    """[[iso time, site kW], ...]: Σ main meters per step; a step missing a meter is left out, not shown low."""
    if df.empty or "p_kw" not in df.columns:
        return []
    wide = df.pivot_table(index="time", columns="device", values="p_kw", aggfunc="mean")
    total = wide.sum(axis=1, min_count=max(1, n_mains))
    return [[pd.Timestamp(str(t)).isoformat(), round(float(v), 3)] for t, v in total.dropna().items()]


def demand_series(df: pd.DataFrame, limit_kw: float | None, margin_pct: float) -> dict[str, Any]:
    """Demand, sliding demand and forecast of the site, with the limit and the pre-alarm band below it."""
    out: dict[str, Any] = {"demand": [], "sliding": [], "forecast": [], "limit_kw": limit_kw, "prealarm_kw": None}
    if not df.empty:
        site = (
            df[df["device"] == sc.SITE_TOTAL_DEVICE]
            if "device" in df.columns and (df["device"] == sc.SITE_TOTAL_DEVICE).any()
            else df
        )
        for col, key in (("demand_kw", "demand"), ("sliding_kw", "sliding"), ("forecast_kw", "forecast")):
            if col in site.columns:
                s = site[["time", col]].dropna()
                out[key] = [[t.isoformat(), round(float(v), 3)] for t, v in zip(s["time"], s[col], strict=True)]
        if "limit_kw" in site.columns and site["limit_kw"].notna().any():
            out["limit_kw"] = float(site["limit_kw"].dropna().iloc[-1])
    if out["limit_kw"] is not None:
        out["prealarm_kw"] = round(prealarm_threshold_kw(out["limit_kw"], margin_pct), 3)
    latest = {k: (out[k][-1][1] if out[k] else None) for k in ("demand", "sliding", "forecast")}
    out["latest"] = latest
    return out


def _dev_frame(energy: pd.DataFrame) -> pd.DataFrame:
    cols = ["device", "carrier", "role", "amount", "tce_kg", "cost", "completeness", "rows"]
    if energy.empty:
        return pd.DataFrame(columns=cols)
    e = energy.reindex(columns=cols)
    e[["amount", "tce_kg", "cost", "completeness", "rows"]] = (
        e[["amount", "tce_kg", "cost", "completeness", "rows"]].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    )
    return e


def _co2_frame(emissions: pd.DataFrame) -> pd.DataFrame:
    """Per device: scope 1, scope 2 location and scope 2 market CO2 (metering engine rows), kg — never summed."""
    if emissions.empty:
        return pd.DataFrame(columns=["device", "role", *BOUNDARIES])
    em = emissions.reindex(columns=["device", "role", "scope", "method", "co2_kg"]).copy()
    em["method"] = em["method"].fillna("").astype(str)
    em["scope"] = em["scope"].astype(str)
    em["role"] = em["role"].fillna("").astype(str)
    em["co2_kg"] = pd.to_numeric(em["co2_kg"], errors="coerce").fillna(0.0)
    em["boundary"] = None
    em.loc[em["scope"] == "1", "boundary"] = "scope1"
    em.loc[(em["scope"] == "2") & (em["method"] == "location"), "boundary"] = "scope2_location"
    em.loc[(em["scope"] == "2") & (em["method"] == "market"), "boundary"] = "scope2_market"
    em = em.dropna(subset=["boundary"])
    wide = em.pivot_table(index=["device", "role"], columns="boundary", values="co2_kg", aggfunc="sum")
    return wide.reindex(columns=list(BOUNDARIES)).reset_index()


@dataclass(frozen=True)
class Direct:
    """The emission units' direct emissions over a period (national carbon market), from measurement `direct`.

    `counted`: fuel meters the units' materials already count — their engine scope-1 rows are not
    added again to scope 1 (one fuel, one count). `co2_kg`/`clinker_t` are None when no day is stored.
    """

    co2_kg: float | None
    clinker_t: float | None
    counted: frozenset[str]
    benchmark: dict[str, Any] | None = None
    cbam: dict[str, Any] | None = None  # `cbam_clinker` of the period, when asked for


def cbam_clinker(points: pd.DataFrame) -> dict[str, Any] | None:
    """CBAM specific embedded emissions per tonne of clinker over the period, direct and indirect apart,
    from the stored `cbam` points (a ratio of the period's sums); None when no clinker day is stored."""
    if points.empty or "product" not in points.columns:
        return None
    ck = points[points["product"] == "clinker"]
    t = float(pd.to_numeric(ck["production_t"], errors="coerce").sum()) if not ck.empty else 0.0
    if t <= 0:
        return None
    direct = float(pd.to_numeric(ck["direct_tco2"], errors="coerce").sum()) / t
    indirect = float(pd.to_numeric(ck["indirect_tco2"], errors="coerce").sum()) / t
    return {
        "boundary": "cbam",
        "product": "clinker",
        "production_t": round(t, 3),
        "see_direct_tco2_per_t": direct,
        "see_indirect_tco2_per_t": indirect,
        "see_total_tco2_per_t": direct + indirect,
    }


def direct_figures(points: pd.DataFrame, counted: frozenset[str], benchmark: dict[str, Any] | None) -> Direct:
    """Sum the `product` points (each unit's direct CO2 and clinker per local day) of the period."""
    if points.empty or "source" not in points.columns:
        return Direct(None, None, counted, benchmark)
    prod = points[points["source"] == "product"]
    if prod.empty:
        return Direct(None, None, counted, benchmark)
    co2 = float(pd.to_numeric(prod["co2_t"], errors="coerce").sum()) * 1000.0
    clinker = float(pd.to_numeric(prod["activity_t"], errors="coerce").sum())
    return Direct(round(co2, 3), round(clinker, 3), counted, benchmark)


def totals(energy: pd.DataFrame, emissions: pd.DataFrame, direct: Direct | None = None) -> dict[str, Any]:
    """Site totals from `role=main` rows: energy per carrier (own unit), tce, cost, CO2 per boundary, output.

    Four boundaries side by side, never added: `ets_direct` (the units' fuel + process CO2, None when
    the plant has no emission unit or no day is stored yet), `scope1` (ets_direct plus the engine's
    scope-1 rows of fuels no unit counts), `scope2_location`, `scope2_market`.
    """
    e = _dev_frame(energy)
    main = e[e["role"] == "main"]
    carriers = {
        str(c): {"amount": round(float(g["amount"].sum()), 3), "unit": ENERGY_UNITS.get(str(c), "")}
        for c, g in main.groupby("carrier")
    }
    energy_rows = main[main["carrier"] != "production"]
    c = _co2_frame(emissions)
    cm = c[c["role"] == "main"] if not c.empty else c
    if direct is not None and not cm.empty:
        # A fuel the units count (their weighers) is in ets_direct already: its engine scope-1 rows are not
        # added again. Scope 2 of those meters is untouched.
        cm = cm.copy()
        cm.loc[cm["device"].astype(str).isin(direct.counted), "scope1"] = float("nan")
    co2: dict[str, float | None] = {
        b: (round(float(cm[b].sum()), 3) if not cm.empty and cm[b].notna().any() else None) for b in BOUNDARIES
    }
    ets = direct.co2_kg if direct is not None else None
    if ets is not None:
        co2["scope1"] = round(ets + (co2["scope1"] or 0.0), 3)
    return {
        "carriers": carriers,
        "electricity_kwh": carriers.get("electricity", {}).get("amount"),
        "tce_kg": round(float(energy_rows["tce_kg"].sum()), 3) if not energy_rows.empty else None,
        "cost": round(float(main["cost"].sum()), 2) if not main.empty else None,
        "output_t": carriers.get("production", {}).get("amount"),
        "co2_kg": {"ets_direct": ets, **co2},
        "co2_method": BOUNDARY_METHOD,
    }


def product_output(plant: Plant, energy: pd.DataFrame, product: str) -> float | None:
    """Tonnes of one product: production meters whose id or area is `product` ("*": every main production meter)."""
    e = _dev_frame(energy)
    e = e[e["carrier"] == "production"]
    if product == "*":
        e = e[e["role"] == "main"]
    else:
        ids = {d.id for d in plant.devices if d.carrier == "production" and product in (d.id, d.area)}
        e = e[e["device"].astype(str).isin(ids)]
    return round(float(e["amount"].sum()), 3) if not e.empty else None


def leaves(plant: Plant) -> set[str]:
    """Devices no other device names as parent: with the `<parent>:unmetered` rows they partition the site."""
    parents = {d.parent for d in plant.devices if d.parent}
    return {d.id for d in plant.devices if d.id not in parents}


def per_device(plant: Plant, energy: pd.DataFrame, emissions: pd.DataFrame) -> pd.DataFrame:
    """One row per device (and unmetered remainder) with area, kind, role, tce, kWh, cost and CO2 per boundary."""
    e = _dev_frame(energy)
    e = e[e["carrier"] != "production"]
    kwh = e[e["carrier"] == "electricity"].groupby("device")["amount"].sum().rename("kwh")
    agg = e.groupby("device").agg(tce_kg=("tce_kg", "sum"), cost=("cost", "sum"), role=("role", "first"))
    df = agg.join(kwh, how="left")
    c = _co2_frame(emissions)
    if not c.empty:
        df = df.join(c.groupby("device")[list(BOUNDARIES)].sum(min_count=1), how="outer")
    else:
        for b in BOUNDARIES:
            df[b] = float("nan")
    by_id = {d.id: d for d in plant.devices}
    area, kind, name, carrier = [], [], [], []
    for dev in df.index:
        d = by_id.get(str(dev))
        parent = by_id.get(str(dev).split(":", 1)[0]) if str(dev).endswith(":unmetered") else None
        area.append(d.area if d else parent.area if parent else "")
        kind.append(d.kind if d else "unmetered" if parent else "")
        name.append(d.name if d else f"{parent.name}: unmetered" if parent else str(dev))
        carrier.append(d.carrier if d else parent.carrier if parent else "")
    df = df.assign(area=area, kind=kind, name=name, carrier=carrier)
    df["role"] = df["role"].fillna("")
    for col in ("tce_kg", "kwh", "cost", *BOUNDARIES):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df.index.name = "device"
    return df.reset_index()


def _isin(ids: pd.Series, wanted: Collection[str]) -> pd.Series:
    """`ids.isin(wanted)` on plain objects: on Arrow-backed strings pandas makes an Arrow scalar of every
    wanted id first (~30 ms per call for 2,000 device ids, several calls per refresh)."""
    return ids.astype(object).isin(list(wanted))


def _leaf_rows(plant: Plant, dev: pd.DataFrame) -> pd.DataFrame:
    lv = leaves(plant)
    return dev[_isin(dev["device"], lv) | dev["device"].astype(str).str.endswith(":unmetered")]


def breakdown(plant: Plant, dev: pd.DataFrame, by: str) -> list[dict[str, Any]]:
    """tce, kWh, cost and CO2 (direct and scope 2 location-based, side by side) per area or kind, largest first.

    At most `BREAKDOWN_ROWS` rows: beyond that the smaller ones are summed into one row with
    `key` "" and `others` = how many it holds, so the chart stays readable with a hundred areas.
    """
    rows = _leaf_rows(plant, dev)
    if rows.empty:
        return []
    cols = ["tce_kg", "kwh", "cost", *BOUNDARIES]
    g = rows.groupby(by)[cols].sum(min_count=1).sort_values("tce_kg", ascending=False, na_position="last")
    out: list[dict[str, Any]] = [
        {"key": str(k), **{str(c): num(v) for c, v in r.items()}} for k, r in g.head(BREAKDOWN_ROWS - 1).iterrows()
    ]
    rest = g.iloc[BREAKDOWN_ROWS - 1 :]
    if len(rest) == 1:
        out += [{"key": str(rest.index[0]), **{str(c): num(v) for c, v in rest.iloc[0].items()}}]
    elif len(rest) > 1:  # one bar for the smaller rest, saying how many it holds (none is dropped from the sums)
        out.append({"key": "", "others": len(rest), **{c: num(rest[c].sum(min_count=1)) for c in cols}})
    return out


def top_consumers(plant: Plant, dev: pd.DataFrame, n: int = TOP_N) -> list[dict[str, Any]]:
    """The n metered leaf devices with the largest tce (unmetered remainders are not a device to open;
    generators such as PV are not consumers)."""
    rows = _leaf_rows(plant, dev)
    generators = [k.id for k in kinds().values() if k.generates]
    rows = rows[~rows["device"].astype(str).str.endswith(":unmetered") & ~rows["kind"].isin(generators)]
    rows = rows.sort_values("tce_kg", ascending=False, na_position="last").head(n)
    cols = ["device", "name", "area", "kind", "carrier", "tce_kg", "kwh", "cost", *BOUNDARIES]
    return [{c: (num(r[c]) if c not in ("device", "name", "area", "kind", "carrier") else r[c]) for c in cols}
            for _, r in rows.iterrows()]  # fmt: skip


def sankey(plant: Plant, dev: pd.DataFrame, carrier: str = "electricity") -> dict[str, Any]:
    """Main meters → feeders → devices, plus each node's unmetered remainder, in the carrier's own unit.

    Readable at 2,000 devices: the diagram holds at most `SANKEY_NODES` nodes. The largest nodes are
    opened first (a heap by amount), each showing up to `SANKEY_CHILDREN` of its largest children and
    one "N more" node for the rest; a node left closed when the budget runs out keeps its whole
    amount on its incoming link, so every flow still sums to its main meter.
    """
    amount = {str(d): float(a) for d, a in zip(dev["device"], dev["kwh"].fillna(0.0), strict=True)}
    devices = [d for d in plant.devices if d.carrier == carrier]
    children: dict[str, list[str]] = {}
    for d in devices:
        if d.parent:
            children.setdefault(d.parent, []).append(d.id)
    names = {d.id: d.name for d in devices}
    nodes: dict[str, str] = {}
    links: list[dict[str, Any]] = []

    def add(node: str, label: str, source: str | None = None, value: float = 0.0) -> None:
        nodes.setdefault(node, label)
        if source is not None:
            links.append({"source": source, "target": node, "value": round(value, 3)})

    roots = [d.id for d in devices if d.role == "main" and d.parent is None and amount.get(d.id, 0.0) > 0]
    heap: list[tuple[float, str]] = []
    for r in roots:
        add(r, names.get(r, r))
        heapq.heappush(heap, (-amount[r], r))
    while heap:
        _, parent = heapq.heappop(heap)
        kids = sorted((k for k in children.get(parent, []) if amount.get(k, 0.0) > 0), key=lambda k: -amount[k])
        unmetered = amount.get(f"{parent}:unmetered", 0.0) if children.get(parent) else 0.0
        extra = (unmetered > 0) + 1  # the unmetered node and, maybe, one "N more" node
        room = SANKEY_NODES - len(nodes) - extra
        if room < 0 or (not kids and unmetered <= 0):
            continue  # closed: its incoming link carries its whole amount
        shown = kids[: min(SANKEY_CHILDREN, room)]
        rest = kids[len(shown) :]
        for k in shown:
            add(k, names.get(k, k), parent, amount[k])
            if children.get(k):
                heapq.heappush(heap, (-amount[k], k))
        if rest:
            label = f"{names.get(parent, parent)}: {len(rest)} more"
            add(f"{parent}:other", label, parent, sum(amount[k] for k in rest))
        if unmetered > 0:
            add(f"{parent}:unmetered", f"{names.get(parent, parent)}: unmetered", parent, unmetered)
    return {
        "carrier": carrier,
        "unit": ENERGY_UNITS.get(carrier, ""),
        "nodes": [{"name": k, "label": v} for k, v in nodes.items()],
        "links": links,
    }


def _rate(value: float | None, levels: dict[str, float]) -> str | None:
    if value is None:
        return None
    ordered = sorted(levels.items(), key=lambda kv: kv[1])
    return next((name for name, bound in ordered if value <= bound * (1 + 1e-9)), None)


def intensity(
    plant: Plant, energy: pd.DataFrame, totals: dict[str, Any], benchmarks: list[dict[str, Any]], direct: Direct | None
) -> dict[str, Any]:
    """Per tonne of the product each benchmark names: site tce, electricity; and direct tCO2 per tonne of clinker.

    Each energy benchmark is rated on its own product's tonnes (a clinker benchmark on clinker, not on
    raw meal + clinker + cement). `direct`: the units' direct CO2 (national carbon market) per tonne of
    their clinker, against the method file's benchmark when it ships one.
    """
    tce, kwh = totals.get("tce_kg"), totals.get("electricity_kwh")
    rated = []
    for b in benchmarks:
        out_t = product_output(plant, energy, b["product"])
        value = tce / out_t if out_t and tce is not None and out_t > 0 else None
        rated.append(
            {
                **b,
                "output_t": out_t,
                "value": value,
                "kwh_per_t": kwh / out_t if out_t and kwh is not None and out_t > 0 else None,
                "met": _rate(value, b["levels"]),
            }
        )
    first = rated[0] if rated else None
    site_out = product_output(plant, energy, "*")
    d = None
    if direct is not None:
        per_t = direct.co2_kg / 1000.0 / direct.clinker_t if direct.co2_kg is not None and direct.clinker_t else None
        bm = direct.benchmark
        d = {
            "metric": "tco2_per_t_clinker",
            "boundary": "ets_direct",
            "value": per_t,
            "clinker_t": direct.clinker_t,
            "co2_kg": direct.co2_kg,
            "benchmark": bm,
            "met": (per_t <= bm["value"] * (1 + 1e-9)) if per_t is not None and bm else None,
            # CBAM embedded per tonne of clinker (direct, indirect = the line's electricity × location factor).
            "cbam": direct.cbam,
        }
    return {
        "metric": "tce_kg_per_t",
        "product": first["product"] if first else "*",
        # Without a benchmark, the site's whole output (every main production meter).
        "value": first["value"] if first else (tce / site_out if site_out and tce is not None else None),
        "output_t": first["output_t"] if first else site_out,
        "kwh_per_t": first["kwh_per_t"] if first else (kwh / site_out if site_out and kwh is not None else None),
        "tce_kg": tce,
        "benchmarks": rated,
        "direct": d,
    }


@dataclass(frozen=True)
class HealthRules:
    """When a device is stale or offline, from its poll interval: a few missed polls vs. many minutes."""

    stale_polls: float = 3.0
    stale_min_s: float = 30.0
    offline_s: float = 900.0


def health(
    plant: Plant, last_seen: dict[str, datetime], status: pd.DataFrame, now: datetime, rules: HealthRules
) -> dict[str, Any]:
    """Online / stale / offline / bad per metered device, with since-when for the ones that are not fine.

    `bad`: the edge's latest status for the device reports an error (it reads, but not good values).
    """
    st: dict[str, dict[str, Any]] = {}
    if not status.empty and "device" in status.columns:
        for _, r in status.iterrows():
            st[str(r["device"])] = {"time": r["time"], "online": r.get("online"), "error": r.get("error")}
    counts = dict.fromkeys(("online", "stale", "offline", "bad"), 0)
    not_fine: list[dict[str, Any]] = []
    for d in plant.devices:
        if d.source is None:
            continue
        seen = last_seen.get(d.id)
        s = st.get(d.id, {})
        stale_after = max(rules.stale_min_s, rules.stale_polls * d.source.interval_s)
        age = (now - seen).total_seconds() if seen is not None else None
        error = s.get("error")
        error = str(error) if error is not None and str(error) not in ("", "nan", "None") else None
        if age is None or age > rules.offline_s or s.get("online") is False:
            state, since = "offline", seen
        elif age > stale_after:
            state, since = "stale", seen
        elif error is not None:
            state, since = "bad", s.get("time")
        else:
            state, since = "online", None
        counts[state] += 1
        if state != "online":
            not_fine.append(
                {
                    "device": d.id,
                    "name": d.name,
                    "area": d.area,
                    "state": state,
                    "since": since.isoformat() if since is not None else None,
                    "error": error,
                }
            )
    # Offline first, then bad, then stale; the longest-standing first within each (a wall screen
    # at 2,000 devices lists the first NOT_FINE_SHOWN and says how many more).
    rank = {"offline": 0, "bad": 1, "stale": 2}
    not_fine.sort(key=lambda r: (rank[r["state"]], r["since"] or ""))
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "not_fine": not_fine[:NOT_FINE_SHOWN],
        "not_fine_more": max(0, len(not_fine) - NOT_FINE_SHOWN),
    }


def completeness(plant: Plant, energy: pd.DataFrame, midnight: datetime, closed_end: datetime) -> dict[str, Any]:
    """Share of today's closed 15-minute intervals metered, over every metered main and sub device."""
    metered = [d.id for d in plant.devices if d.source is not None]
    intervals = max(0, int((closed_end - midnight).total_seconds() // 900))
    expected = intervals * len(metered)
    e = _dev_frame(energy)
    e = e[_isin(e["device"], metered)]
    got = float(e.groupby("device")["completeness"].sum().clip(upper=intervals).sum()) if not e.empty else 0.0
    return {
        "intervals": intervals,
        "devices": len(metered),
        "expected": expected,
        "metered": round(got, 3),
        "pct": round(100.0 * got / expected, 2) if expected else None,
    }
