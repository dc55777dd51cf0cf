"""Metering I/O at the edges: raw readings from InfluxDB or CSV, energy/emissions rows to line protocol and back out.

Bad input: a readings CSV may miss columns, hold unparsable times or non-numeric values.
`read_readings_csv` raises `ValueError` naming the file and the missing columns or the
first bad row; rows with an empty or non-numeric value are dropped and counted (the
engine treats them as a gap), never guessed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from core.influx import InfluxQLError, InfluxTarget, escape_tag_value, influxql, quote_ident, quote_literal
from core.plant import Plant
from core.quantities import registry as quantity_registry
from metering.intervals import READING_COLUMNS, wide_to_long

ENERGY_TAGS = ("site", "area", "device", "carrier", "role", "tou")
EMISSION_TAGS = ("site", "area", "device", "carrier", "role", "scope", "method")


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def carriers_of(plant: Plant) -> list[str]:
    return sorted({d.carrier for d in plant.devices})


def read_raw(
    target: InfluxTarget,
    plant: Plant,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    devices: Iterable[str] | None = None,
    parallel: int = 3,
) -> pd.DataFrame:
    """Readings (long form) of the plant's site in [start, end) from the raw bucket.

    Queries per carrier measurement, the devices split into `parallel` groups queried at
    once (InfluxDB runs them on its own threads), answered as CSV (`Accept: application/csv`)
    because pandas' C parser reads it several times faster than the JSON form.
    """
    wanted = set(devices) if devices is not None else None
    queries: list[str] = []
    for carrier in carriers_of(plant):
        ids = [d.id for d in plant.devices if d.carrier == carrier and (wanted is None or d.id in wanted)]
        if not ids:
            continue
        base = f"site = {quote_literal(plant.site.id)} AND time >= '{_iso(start)}' AND time < '{_iso(end)}'"
        groups = [ids[i::parallel] for i in range(parallel)] if parallel > 1 and len(ids) >= parallel else [ids]
        for group in groups:
            where = base + " AND (" + " OR ".join(f"device = {quote_literal(i)}" for i in group) + ")"
            # GROUP BY device: each device's readings arrive together and in time order.
            queries.append(f'SELECT * FROM {quote_ident(carrier)} WHERE {where} GROUP BY "device"')
    with httpx.Client(timeout=300.0) as http:
        if len(queries) > 1:
            with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                frames = list(pool.map(lambda q: _query_csv(target, q, http), queries))
        else:
            frames = [_query_csv(target, q, http) for q in queries]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in READING_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def _query_csv(target: InfluxTarget, query: str, http: httpx.Client) -> pd.DataFrame:
    params = {"db": target.raw_bucket, "q": query, "epoch": "ms"}
    headers = {"Authorization": f"Token {target.token}", "Accept": "application/csv"}
    try:
        resp = http.get(f"{target.url.rstrip('/')}/query", params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise InfluxQLError(f"InfluxQL request to {target.url} failed: {exc}") from exc
    if resp.status_code != 200:
        raise InfluxQLError(f"InfluxQL HTTP {resp.status_code}: {resp.text[:500]}")
    if not resp.content.strip():
        return pd.DataFrame()
    labels = {c: "category" for c in ("name", "tags", "device", "site", "area", "kind", "edge")}
    wide = pd.read_csv(io.BytesIO(resp.content), dtype=labels)
    if "error" in wide.columns:
        raise InfluxQLError(f"InfluxQL error: {wide['error'].iloc[0]}")
    if "device" not in wide.columns and "tags" in wide.columns:
        # Grouped by device, the tag comes as "device=<id>" in the `tags` column: rename per category.
        wide["device"] = wide["tags"].cat.rename_categories(lambda c: str(c).split("=", 1)[-1])
    if "time" not in wide.columns or "device" not in wide.columns:
        return pd.DataFrame()
    wide["time"] = pd.to_datetime(wide["time"], unit="ms", utc=True)
    return wide_to_long(wide)


def interval_counts(
    target: InfluxTarget, plant: Plant, start: pd.Timestamp, end: pd.Timestamp
) -> dict[tuple[str, pd.Timestamp], int]:
    """How many values each device has per 15-minute interval: a change means late data arrived."""
    out: dict[tuple[str, pd.Timestamp], int] = {}
    for carrier in carriers_of(plant):
        q = (
            f"SELECT COUNT(*) FROM {quote_ident(carrier)} WHERE site = {quote_literal(plant.site.id)} "
            f"AND time >= '{_iso(start)}' AND time < '{_iso(end)}' GROUP BY time(15m), device"
        )
        df = influxql(target, q)
        if df.empty:
            continue
        counts = df[[c for c in df.columns if c.startswith("count_")]].fillna(0).sum(axis=1)
        for dev, ts, n in zip(df["device"], df["time"], counts, strict=True):
            if n > 0:
                out[(str(dev), pd.Timestamp(ts))] = int(n)
    return out


# --- line protocol out ------------------------------------------------------------------


def _tag_prefix(measurement: str, frame: pd.DataFrame, tags: Iterable[str]) -> list[str]:
    parts = [np.full(len(frame), measurement, dtype=object)]
    for tag in sorted(tags):
        if tag not in frame.columns:
            continue
        vals = frame[tag].astype(str).map(escape_tag_value).to_numpy(dtype=object)
        parts.append(np.where(vals == "", "", f",{tag}=" + vals))
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return list(out)


def _num(v: float) -> str:
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def _str(v: str) -> str:
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def energy_lines(energy: pd.DataFrame) -> Iterator[str]:
    """`energy` points: tags site/area/device/carrier/role/tou; fields amount, unit, tce_kg, cost, status, …"""
    if energy.empty:
        return
    prefix = _tag_prefix("energy", energy, ENERGY_TAGS)
    ts = (energy["interval_start"].astype("datetime64[ms, UTC]").astype("int64")).to_numpy()
    cols = [energy[c].to_numpy() for c in ("amount", "unit", "tce_kg", "cost", "status", "completeness")]
    for p, amount, unit, tce, cost, status, comp, t in zip(prefix, *cols, ts, strict=True):
        fields = [f"amount={_num(amount)}"]
        if isinstance(comp, float) and math.isfinite(comp):
            fields.append(f"completeness={_num(comp)}")
        if isinstance(cost, float) and math.isfinite(cost):
            fields.append(f"cost={_num(cost)}")
        if status:
            fields.append(f"status={_str(status)}")
        if isinstance(tce, float) and math.isfinite(tce):
            fields.append(f"tce_kg={_num(tce)}")
        fields.append(f"unit={_str(unit)}")
        yield f"{p} {','.join(fields)} {t}"


def emission_lines(emissions: pd.DataFrame) -> Iterator[str]:
    """`emissions` points: tags site/area/device/carrier/role/scope/method; fields co2_kg, co2e_kg, factor, gwp."""
    if emissions.empty:
        return
    prefix = _tag_prefix("emissions", emissions, EMISSION_TAGS)
    ts = (emissions["interval_start"].astype("datetime64[ms, UTC]").astype("int64")).to_numpy()
    cols = [emissions[c].to_numpy() for c in ("co2_kg", "co2e_kg", "factor", "gwp")]
    for p, co2, co2e, factor, g, t in zip(prefix, *cols, ts, strict=True):
        yield f"{p} co2_kg={_num(co2)},co2e_kg={_num(co2e)},factor={_str(factor)},gwp={_str(g)} {t}"


def write_results(target: InfluxTarget, energy: pd.DataFrame, emissions: pd.DataFrame, *, batch: int = 20_000) -> int:
    """Write energy and emissions rows to the metering bucket; returns the number of points."""
    from influxdb_client import WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS

    from core.influx import influx_client

    n = 0
    with influx_client(target, timeout_ms=120_000) as client:
        api = client.write_api(write_options=SYNCHRONOUS)
        buf: list[str] = []
        for ln in _chain(energy_lines(energy), emission_lines(emissions)):
            buf.append(ln)
            if len(buf) >= batch:
                api.write(target.metering_bucket, target.org, "\n".join(buf), WritePrecision.MS)
                n += len(buf)
                buf.clear()
        if buf:
            api.write(target.metering_bucket, target.org, "\n".join(buf), WritePrecision.MS)
            n += len(buf)
    return n


def _chain(*its: Iterable[str]) -> Iterator[str]:
    for it in its:
        yield from it


# --- CSV --------------------------------------------------------------------------------


def read_readings_csv(path: str | Path) -> pd.DataFrame:
    """A meter export as readings: long form (time, device, quantity, value) or wide (time, device, <quantities>).

    `time` is ISO 8601 (a value without offset is taken as UTC) or epoch milliseconds.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"device": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read CSV: {exc}") from None
    missing = [c for c in ("time", "device") if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; need time, device and quantity/value or quantity columns")
    df["time"] = _parse_times(df["time"], path)
    if {"quantity", "value"} <= set(df.columns):
        long = df[READING_COLUMNS].copy()
        unknown = sorted(set(long["quantity"].astype(str)) - set(quantity_registry()))
        if unknown:
            raise ValueError(f"{path}: unknown quantities {unknown} (see core/quantities.yaml)")
    else:
        qcols = [c for c in df.columns if c in quantity_registry()]
        if not qcols:
            raise ValueError(f"{path}: no quantity columns (e.g. e_imp_kwh) and no quantity/value columns")
        long = wide_to_long(df, qcols)
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    return long.dropna(subset=["value"]).reset_index(drop=True)


def _parse_times(col: pd.Series, path: Path) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col):
        return pd.to_datetime(col, unit="ms", utc=True)
    try:
        return pd.to_datetime(col, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: column time: not ISO 8601 or epoch ms: {exc}") from None


def results_table(energy: pd.DataFrame, emissions: pd.DataFrame) -> pd.DataFrame:
    """Energy and emissions rows in one table with a `measurement` column, for CSV/JSON output."""
    e = energy.assign(measurement="energy")
    m = emissions.assign(measurement="emissions")
    out = pd.concat([e, m], ignore_index=True)
    cols = ["measurement", *[c for c in out.columns if c != "measurement"]]
    out = out[cols]
    out["interval_start"] = pd.to_datetime(out["interval_start"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out
