"""InfluxQL reads behind the API: interval energy, emissions, demand, DR, live power (I/O at the edge).

Every value put into a query is quoted with `quote_literal`/`quote_ident`, and ids are already
validated by the routes; a failing InfluxDB raises `InfluxQLError`, which the app turns into 503.

Emissions are always read per scope and method and handed on split by boundary
(`by_boundary`): scope 2 location- and market-based rows describe the same kWh twice, so no
figure the API returns adds them (GHG Protocol Scope 2 Guidance, dual reporting).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pandas as pd

from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget, influxql, quote_ident, quote_literal

Granularity = Literal["15m", "1h", "1d"]
GroupBy = Literal["site", "area", "device"]


def _t(dt: datetime) -> str:
    return quote_literal(dt.isoformat().replace("+00:00", "Z"))


def _where(
    site: str, start: datetime, end: datetime, extra: dict[str, str | None], devices: list[str] | None = None
) -> str:
    parts = [f"{quote_ident('site')} = {quote_literal(site)}", f"time >= {_t(start)}", f"time < {_t(end)}"]
    parts += [f"{quote_ident(k)} = {quote_literal(v)}" for k, v in extra.items() if v]
    if devices is not None:
        parts.append("(" + (" OR ".join(f'"device" = {quote_literal(d)}' for d in devices) or "\"device\" = ''") + ")")
    return " AND ".join(parts)


def _group(group_by: GroupBy, granularity: Granularity | None, tz: str, more: list[str] | None = None) -> str:
    tags = {"site": [], "area": ["area"], "device": ["area", "device"]}[group_by] + (more or [])
    items = ([f"time({granularity})"] if granularity else []) + [quote_ident(t) for t in tags]
    clause = (" GROUP BY " + ", ".join(items)) if items else ""
    return clause + (f" fill(none) tz({quote_literal(tz)})" if granularity else "")


def records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, object]]:
    if df.empty:
        return []
    out = df[[c for c in columns if c in df.columns]].copy()
    if "time" in out.columns:
        out["time"] = out["time"].map(lambda t: t.isoformat())
    out = out.astype(object).where(pd.notna(out), None)
    return [{str(k): v for k, v in r.items()} for r in out.to_dict(orient="records")]


def energy(
    target: InfluxTarget,
    site: str,
    start: datetime,
    end: datetime,
    granularity: Granularity | None,
    group_by: GroupBy,
    tz: str,
    carrier: str | None = None,
) -> pd.DataFrame:
    # The site total counts main meters only: sub-meters are a breakdown of their parent.
    role = "main" if group_by == "site" else None
    q = (
        'SELECT sum("amount") AS "amount", sum("tce_kg") AS "tce_kg", sum("cost") AS "cost" '
        f"FROM {quote_ident(sc.ENERGY)} WHERE "
        + _where(site, start, end, {"carrier": carrier, "role": role})
        + _group(group_by, granularity, tz)
    )
    return influxql(target, q, target.metering_bucket)


def emissions(
    target: InfluxTarget,
    site: str,
    start: datetime,
    end: datetime,
    granularity: Granularity | None,
    group_by: GroupBy,
    tz: str,
    scope: str | None = None,
    main_devices: list[str] | None = None,
) -> pd.DataFrame:
    """Sums per scope and method (columns `scope`, `method`: "" for scope 1) besides the grouping.

    `main_devices`: for the site total, the main meters (older emissions rows carry no role tag).
    Feed the result to `by_boundary`; never sum its `co2_kg` column as it is.
    """
    devices = main_devices if group_by == "site" else None
    q = (
        f'SELECT sum("co2_kg") AS "co2_kg", sum("co2e_kg") AS "co2e_kg" FROM {quote_ident(sc.EMISSIONS)} WHERE '
        + _where(site, start, end, {"scope": scope}, devices)
        + _group(group_by, granularity, tz, ["scope", "method"])
    )
    return influxql(target, q, target.metering_bucket)


# The boundaries every emissions figure is split into, and the two totals (scope 1 + one scope 2 method).
# A figure is a dict {boundary or total: kg}; no figure adds location- and market-based rows.
BOUNDARIES = ("scope1", "scope2_location", "scope2_market")
TOTALS = {"total_location": "location", "total_market": "market"}
_OTHER_METHOD = {"location": "market", "market": "location"}


def boundaries(scope: pd.Series, method: pd.Series) -> pd.Series:
    """Per row: ('2', 'market') → 'scope2_market'; ('1', '') → 'scope1'. Only scope 2 has methods."""
    sc = scope.fillna("").astype(str)
    m = method.fillna("").astype(str).where(sc == "2", "")
    return "scope" + sc + ("_" + m).where(m != "", "")


def with_totals(wide: pd.DataFrame) -> pd.DataFrame:
    """Per-boundary sums (one column per boundary) → every boundary (0 when absent) and the two totals.

    A total is scope 1 plus scope 2 by one method: columns of the other method are left out, so
    the same kWh are never counted twice (a further boundary without a method counts in both).
    """
    out = wide.reindex(columns=list(dict.fromkeys([*BOUNDARIES, *wide.columns]))).fillna(0.0).astype(float)
    for name, method in TOTALS.items():
        other = f"_{_OTHER_METHOD[method]}"
        out[name] = out[[c for c in out.columns if c not in TOTALS and not c.endswith(other)]].sum(axis=1)
    return out


def by_boundary(df: pd.DataFrame, keys: list[str], cols: tuple[str, ...] = ("co2_kg", "co2e_kg")) -> pd.DataFrame:
    """Rows per scope and method → one row per `keys`, each of `cols` a dict {boundary: kg, total_…: kg}."""
    if df.empty:
        return pd.DataFrame(columns=[*keys, *cols])
    blank = pd.Series("", index=df.index)
    df = df.assign(_b=boundaries(df.get("scope", blank), df.get("method", blank)), _k=0)
    index = keys or ["_k"]
    out: pd.DataFrame | None = None
    for c in cols:
        wide = df.pivot_table(index=index, columns="_b", values=c, aggfunc="sum")
        wide.columns = [str(x) for x in wide.columns]
        wide = with_totals(wide)
        col = pd.Series(wide.to_dict(orient="records"), index=wide.index, name=c)
        out = col.to_frame() if out is None else out.join(col)
    assert out is not None
    out = out.reset_index()
    return out[[*keys, *cols]]


def demand(target: InfluxTarget, site: str, start: datetime, end: datetime) -> pd.DataFrame:
    q = f'SELECT "demand_kw", "forecast_kw", "limit_kw" FROM {quote_ident(sc.DEMAND)} WHERE ' + _where(
        site, start, end, {}
    )
    return influxql(target, q, target.metering_bucket)


def latest_demand(target: InfluxTarget, site: str) -> pd.DataFrame:
    q = (
        'SELECT last("demand_kw") AS "demand_kw", last("forecast_kw") AS "forecast_kw", last("limit_kw") AS "limit_kw" '
        f'FROM {quote_ident(sc.DEMAND)} WHERE "site" = {quote_literal(site)} AND time > now() - 1h AND time <= now()'
    )
    return influxql(target, q, target.metering_bucket)


def dr_series(target: InfluxTarget, site: str, event: str, start: datetime, end: datetime) -> pd.DataFrame:
    q = f'SELECT "baseline_kw", "actual_kw", "reduction_kw" FROM {quote_ident(sc.DR)} WHERE ' + _where(
        site, start, end, {"event": event}
    )
    return influxql(target, q, target.metering_bucket)


def live_power(target: InfluxTarget, site: str, window_s: int = 300) -> pd.DataFrame:
    """The last `p_kw` of every electricity device of the site seen in the last `window_s`.

    Bounded by now: InfluxQL has no default upper bound here, and one point stamped in the
    future (a wrong clock) would stand as "latest" until that date.
    """
    q = (
        'SELECT last("p_kw") AS "p_kw" FROM "electricity" '
        f'WHERE "site" = {quote_literal(site)} AND time > now() - {int(window_s)}s AND time <= now() GROUP BY "device"'
    )
    return influxql(target, q, target.raw_bucket)


REPORT_FIGURES = [*BOUNDARIES, *TOTALS]


def report_columns(col: str) -> list[str]:
    """'co2_kg' → ['co2_scope1_kg', …, 'co2_total_market_kg']: one column per boundary and total."""
    gas = col.removesuffix("_kg")
    return [f"{gas}_{b}_kg" for b in REPORT_FIGURES]


def report_rows(target: InfluxTarget, site: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Energy and emissions per device and carrier over a period, joined into one frame.

    Emissions come as one column per boundary (`report_columns`): scope 1, scope 2 location-
    and market-based side by side, and the two totals; nothing adds the two scope 2 methods.
    """
    e = influxql(
        target,
        'SELECT sum("amount") AS "amount", sum("tce_kg") AS "tce_kg", sum("cost") AS "cost" '
        f"FROM {quote_ident(sc.ENERGY)} WHERE "
        + _where(site, start, end, {})
        + ' GROUP BY "device", "carrier", "role", "area"',
        target.metering_bucket,
    )
    c = influxql(
        target,
        f'SELECT sum("co2_kg") AS "co2_kg", sum("co2e_kg") AS "co2e_kg" FROM {quote_ident(sc.EMISSIONS)} WHERE '
        + _where(site, start, end, {})
        + ' GROUP BY "device", "carrier", "scope", "method"',
        target.metering_bucket,
    )
    keys = ["device", "carrier"]
    figures = [*report_columns("co2_kg"), *report_columns("co2e_kg")]
    if e.empty and c.empty:
        return pd.DataFrame(columns=[*keys, "area", "role", "amount", "tce_kg", "cost", *figures])
    e = (
        e.drop(columns=[x for x in ("time", "_measurement") if x in e.columns])
        if not e.empty
        else pd.DataFrame(columns=keys)
    )
    wide = by_boundary(c, keys)
    for col in ("co2_kg", "co2e_kg"):
        for name, b in zip(report_columns(col), REPORT_FIGURES, strict=True):
            wide[name] = [d[b] for d in wide[col]]
    wide = wide.drop(columns=["co2_kg", "co2e_kg"])
    return e.merge(wide, on=keys, how="outer").sort_values(keys).reset_index(drop=True)
