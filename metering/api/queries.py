"""InfluxQL reads behind the API: interval energy, emissions, demand, DR, live power (I/O at the edge).

Every value put into a query is quoted with `quote_literal`/`quote_ident`, and ids are already
validated by the routes; a failing InfluxDB raises `InfluxQLError`, which the app turns into 503.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pandas as pd

from core.influx import InfluxTarget, influxql, quote_ident, quote_literal

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


def _group(group_by: GroupBy, granularity: Granularity | None, tz: str) -> str:
    tags = {"site": [], "area": ["area"], "device": ["area", "device"]}[group_by]
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
        'SELECT sum("amount") AS "amount", sum("tce_kg") AS "tce_kg", sum("cost") AS "cost" FROM "energy" WHERE '
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
    """`main_devices`: for the site total, the main meters (emissions rows carry no role tag)."""
    devices = main_devices if group_by == "site" else None
    q = (
        'SELECT sum("co2_kg") AS "co2_kg", sum("co2e_kg") AS "co2e_kg" FROM "emissions" WHERE '
        + _where(site, start, end, {"scope": scope}, devices)
        + _group(group_by, granularity, tz)
    )
    return influxql(target, q, target.metering_bucket)


def demand(target: InfluxTarget, site: str, start: datetime, end: datetime) -> pd.DataFrame:
    q = 'SELECT "demand_kw", "forecast_kw", "limit_kw" FROM "demand" WHERE ' + _where(site, start, end, {})
    return influxql(target, q, target.metering_bucket)


def latest_demand(target: InfluxTarget, site: str) -> pd.DataFrame:
    q = (
        'SELECT last("demand_kw") AS "demand_kw", last("forecast_kw") AS "forecast_kw", last("limit_kw") AS "limit_kw" '
        f'FROM "demand" WHERE "site" = {quote_literal(site)} AND time > now() - 1h AND time <= now()'
    )
    return influxql(target, q, target.metering_bucket)


def dr_series(target: InfluxTarget, site: str, event: str, start: datetime, end: datetime) -> pd.DataFrame:
    q = 'SELECT "baseline_kw", "actual_kw", "reduction_kw" FROM "dr" WHERE ' + _where(
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


def report_rows(target: InfluxTarget, site: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Energy and emissions per device and carrier over a period, joined into one frame."""
    e = influxql(
        target,
        'SELECT sum("amount") AS "amount", sum("tce_kg") AS "tce_kg", sum("cost") AS "cost" FROM "energy" WHERE '
        + _where(site, start, end, {})
        + ' GROUP BY "device", "carrier", "role", "area"',
        target.metering_bucket,
    )
    c = influxql(
        target,
        'SELECT sum("co2_kg") AS "co2_kg", sum("co2e_kg") AS "co2e_kg" FROM "emissions" WHERE '
        + _where(site, start, end, {})
        + ' GROUP BY "device", "carrier", "scope"',
        target.metering_bucket,
    )
    keys = ["device", "carrier"]
    if e.empty and c.empty:
        return pd.DataFrame(columns=[*keys, "area", "role", "amount", "tce_kg", "cost", "scope", "co2_kg", "co2e_kg"])
    e = (
        e.drop(columns=[x for x in ("time", "_measurement") if x in e.columns])
        if not e.empty
        else pd.DataFrame(columns=keys)
    )
    c = (
        c.drop(columns=[x for x in ("time", "_measurement") if x in c.columns])
        if not c.empty
        else pd.DataFrame(columns=keys)
    )
    if not c.empty:
        c = c.groupby(keys, as_index=False).agg(
            co2_kg=("co2_kg", "sum"), co2e_kg=("co2e_kg", "sum"), scope=("scope", lambda s: ",".join(sorted(set(s))))
        )
    return e.merge(c, on=keys, how="outer").sort_values(keys).reset_index(drop=True)
