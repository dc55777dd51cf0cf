"""Demand I/O at the edges: read 1-minute power from the raw bucket, write the `demand` measurement."""

from __future__ import annotations

import math

import pandas as pd

from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget, influxql, line, quote_ident, quote_literal, write_lines


def _rfc3339(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def read_power_1m(
    target: InfluxTarget,
    site: str,
    device: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    field: str = "p_kw",
    measurement: str = "electricity",
) -> pd.Series:
    """1-minute mean power of a device from the raw bucket, labelled by minute start (UTC)."""
    q = (
        f"SELECT mean({quote_ident(field)}) AS p FROM {quote_ident(measurement)} "
        f"WHERE site = {quote_literal(site)} AND device = {quote_literal(device)} "
        f"AND time >= '{_rfc3339(start)}' AND time < '{_rfc3339(end)}' GROUP BY time(1m) fill(none)"
    )
    df = influxql(target, q, database=target.raw_bucket)
    if df.empty:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"), name=device)
    return pd.Series(df["p"].to_numpy(dtype=float), index=pd.DatetimeIndex(df["time"]), name=device)


def read_site_power_1m(
    target: InfluxTarget, site: str, devices: list[str], start: pd.Timestamp, end: pd.Timestamp
) -> pd.Series:
    """Site power = Σ main meters, minute by minute; a minute missing on any meter is a gap."""
    parts = [read_power_1m(target, site, d, start, end) for d in devices]
    if not parts:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC"))
    frame = pd.concat(parts, axis=1)
    return frame.sum(axis=1, min_count=len(parts))


def demand_lines(
    site: str,
    device: str,
    *,
    block: pd.DataFrame | None = None,
    sliding: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
    limit_kw: float | None = None,
) -> list[str]:
    """Line protocol for the `demand` measurement (tags site, device; time = window end or forecast time).

    Fields: demand_kw (fixed block), sliding_kw (sliding window), forecast_kw, limit_kw,
    shed_kw and prealarm (live forecast). A block end and a sliding end at the same minute are
    the same point, with both fields. NaN values are left out.
    """
    points: dict[int, dict[str, float | bool]] = {}

    def put(ts: object, name: str, value: float | bool) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            return
        points.setdefault(int(pd.Timestamp(ts).value // 1_000_000), {})[name] = value  # type: ignore[arg-type]

    if block is not None:
        for ts, v in block["demand_kw"].items():
            put(ts, "demand_kw", float(v))
    if sliding is not None:
        for ts, v in sliding["demand_kw"].items():
            put(ts, "sliding_kw", float(v))
    if forecast is not None and not forecast.empty:
        for ts, row in forecast.iterrows():
            put(ts, "forecast_kw", float(row["forecast_kw"]))
            put(ts, "shed_kw", float(row["shed_kw"]))
            put(ts, "prealarm", bool(row["prealarm"]))
    if limit_kw is not None:
        for fields in points.values():
            fields["limit_kw"] = float(limit_kw)
    tags = dict(zip(sc.DEMAND_TAGS, (site, device), strict=True))
    return [line(sc.DEMAND, tags, f, ts) for ts, f in sorted(points.items()) if f]


def write_demand(target: InfluxTarget, lines: list[str]) -> int:
    write_lines(target, target.metering_bucket, lines)
    return len(lines)
