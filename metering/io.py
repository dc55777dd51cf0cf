"""Metering I/O at the edges: raw readings from InfluxDB or CSV, energy/emissions rows to line protocol and back out.

Bad input: a readings CSV may miss columns, hold unparsable times or non-numeric values.
`read_readings_csv` raises `ValueError` naming the file and the missing columns or the
first bad row; rows with an empty or non-numeric value are dropped and counted (the
engine treats them as a gap), never guessed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from core.influx import InfluxQLError, InfluxTarget, escape_tag_value, influxql, quote_ident, quote_literal
from core.plant import Device, Plant
from core.quantities import counters
from core.quantities import registry as quantity_registry
from metering.energy import ENERGY_COLUMNS, ENERGY_QUANTITIES, ENERGY_UNITS
from metering.intervals import GAUGE_FOR_COUNTER, READING_COLUMNS, wide_to_long

ENERGY_TAGS = ("site", "area", "device", "carrier", "role", "tou")
EMISSION_TAGS = ("site", "area", "device", "carrier", "role", "scope", "method")


def _iso(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def carriers_of(plant: Plant) -> list[str]:
    return sorted({d.carrier for d in plant.devices})


def metered_quantities() -> list[str]:
    """The fields metering reads: cumulative counters and the gauges it may integrate."""
    return sorted(counters() | set(GAUGE_FOR_COUNTER))


def read_raw(
    target: InfluxTarget,
    plant: Plant,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    devices: Iterable[str] | None = None,
    all_fields: bool = False,
    parallel: int = 3,
) -> pd.DataFrame:
    """Readings (long form) of the plant's site in [start, end) from the raw bucket.

    Only the fields metering uses are read (a sample carries dozens of gauges besides its
    counters), unless `all_fields`. Queries per carrier measurement, the devices split into
    `parallel` groups queried at once (InfluxDB runs them on its own threads), answered as
    CSV (`Accept: application/csv`) because pandas' C parser reads it several times faster
    than the JSON form.
    """
    wanted = set(devices) if devices is not None else None
    queries: list[str] = []
    for carrier in carriers_of(plant):
        ids = [d.id for d in plant.devices if d.carrier == carrier and (wanted is None or d.id in wanted)]
        select = "*" if all_fields else _metered_fields(target, carrier)
        if ids and select:
            # GROUP BY device: each device's readings arrive together and in time order.
            head = f"SELECT {select} FROM {quote_ident(carrier)}"
            queries += _device_queries(head, plant, ids, start, end, parallel, '"device"')
    frames = []
    for wide in _run(target, target.raw_bucket, queries, parallel):
        if wide.empty or "tags" not in wide.columns:
            continue
        # Grouped by device, the tag comes as "device=<id>" in the `tags` column: rename per category.
        wide["device"] = wide["tags"].cat.rename_categories(lambda c: _unescape(str(c).split("=", 1)[-1]))
        frames.append(wide_to_long(wide))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in READING_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def _metered_fields(target: InfluxTarget, measurement: str) -> str:
    """The metered quantities the measurement has, as a SELECT list ("" if none).

    InfluxDB reads every field named in a SELECT for every series, present or not: asking
    only for the fields that exist keeps the bulk read of a recompute at one field per counter.
    """
    try:
        keys = influxql(target, f"SHOW FIELD KEYS FROM {quote_ident(measurement)}")
    except InfluxQLError:  # the read itself will report a database that does not answer
        return ", ".join(quote_ident(q) for q in metered_quantities())
    present = set(keys["fieldKey"]) if "fieldKey" in keys.columns else set()
    return ", ".join(quote_ident(q) for q in metered_quantities() if q in present)


def read_energy(
    target: InfluxTarget, plant: Plant, start: pd.Timestamp, end: pd.Timestamp, *, parallel: int = 3
) -> pd.DataFrame:
    """Stored `energy` rows of the site in [start, end) as energy rows (`ENERGY_COLUMNS`), to be priced again.

    Reads `amount` and `tce_kg` (as stored, to be compared with the new value) with the tags;
    `status` and `completeness` are left empty. `quantity` is not stored: it is taken as what
    the engine meters for the carrier (for a PV inverter, its export).
    """
    head = "SELECT amount, tce_kg FROM energy"
    ids = [d.id for d in plant.devices] + [f"{d.id}:unmetered" for d in plant.devices]
    ids += [v.id for v in plant.virtual_meters]
    frames = [
        f
        for f in _run(
            target, target.metering_bucket, _device_queries(head, plant, ids, start, end, parallel, "*"), parallel
        )
        if not f.empty
    ]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ENERGY_COLUMNS})
    wide = pd.concat(frames, ignore_index=True)
    n = len(wide)
    out = pd.DataFrame(_split_tags(wide["tags"], ("site", "area", "device", "carrier", "role", "tou")))
    out["interval_start"] = wide["time"]
    out["amount"] = pd.to_numeric(wide["amount"], errors="coerce")
    out["unit"] = out["carrier"].map(ENERGY_UNITS).astype("category")
    devices = {d.id: d for d in plant.devices}
    pairs = out[["device", "carrier"]].drop_duplicates()
    kinds = {
        (d, c): _stored_quantity(devices.get(str(d).split(":", 1)[0]), str(c))
        for d, c in pairs.itertuples(index=False, name=None)
    }
    out["quantity"] = pd.Categorical([kinds[k] for k in zip(out["device"], out["carrier"], strict=True)])
    out["status"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([""]))
    out["completeness"] = np.nan
    out["tce_kg"] = pd.to_numeric(wide["tce_kg"], errors="coerce") if "tce_kg" in wide.columns else np.nan
    out["tce_factor"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([""]))
    out["cost"] = np.nan
    out = out[out["amount"].notna()]
    return out[ENERGY_COLUMNS].sort_values(["interval_start", "device"], kind="stable").reset_index(drop=True)


def _stored_quantity(dev: Device | None, carrier: str) -> str:
    if dev is not None and dev.kind == "pv":
        return "e_exp_kwh"
    return ENERGY_QUANTITIES.get(carrier, ("",))[0]


def _device_queries(
    head: str, plant: Plant, ids: list[str], start: pd.Timestamp, end: pd.Timestamp, parallel: int, group_by: str
) -> list[str]:
    """`head WHERE …` for the site and period, one query per group of devices (`parallel` groups)."""
    base = f"site = {quote_literal(plant.site.id)} AND time >= '{_iso(start)}' AND time < '{_iso(end)}'"
    groups = [ids[i::parallel] for i in range(parallel)] if parallel > 1 and len(ids) >= parallel else [ids]
    return [
        f"{head} WHERE {base} AND (" + " OR ".join(f"device = {quote_literal(i)}" for i in g) + f") GROUP BY {group_by}"
        for g in groups
    ]


def _run(target: InfluxTarget, db: str, queries: list[str], parallel: int) -> list[pd.DataFrame]:
    with httpx.Client(timeout=300.0) as http:
        if len(queries) > 1:
            with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                return list(pool.map(lambda q: _query_csv(target, db, q, http), queries))
        return [_query_csv(target, db, q, http) for q in queries]


def _query_csv(target: InfluxTarget, db: str, query: str, http: httpx.Client) -> pd.DataFrame:
    """One InfluxQL query answered as CSV → its wide frame: `tags` categorical, `time` UTC (empty when no rows)."""
    params = {"db": db, "q": query, "epoch": "ms"}
    headers = {"Authorization": f"Token {target.token}", "Accept": "application/csv"}
    try:
        resp = http.get(f"{target.url.rstrip('/')}/query", params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise InfluxQLError(f"InfluxQL request to {target.url} failed: {exc}") from exc
    if resp.status_code != 200:
        raise InfluxQLError(f"InfluxQL HTTP {resp.status_code}: {resp.text[:500]}")
    if not resp.content.strip():
        return pd.DataFrame()
    wide = pd.read_csv(io.BytesIO(resp.content), dtype={"name": "category", "tags": "category"})
    if "error" in wide.columns:
        raise InfluxQLError(f"InfluxQL error: {wide['error'].iloc[0]}")
    if "time" not in wide.columns:
        return pd.DataFrame()
    wide["time"] = pd.to_datetime(wide["time"], unit="ms", utc=True)
    return wide


_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def _split_tags(tags: pd.Series, keys: Iterable[str]) -> dict[str, pd.Series]:
    """The `tags` column of grouped InfluxQL CSV ("k=v,k=v") → one categorical per tag, parsed once per category."""
    cat = tags.astype("category")
    parsed = [dict(kv.split("=", 1) for kv in _UNESCAPED_COMMA.split(str(t)) if "=" in kv) for t in cat.cat.categories]
    codes = cat.cat.codes.to_numpy()
    out = {}
    for key in keys:
        values = pd.Index([_unescape(p.get(key, "")) for p in parsed])
        uniq = values.unique()
        out[key] = pd.Series(pd.Categorical.from_codes(uniq.get_indexer(values)[codes], categories=uniq))
    return out


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", r"\1", v)


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


def _tag_prefix(measurement: str, frame: pd.DataFrame, tags: Iterable[str]) -> np.ndarray:
    """`measurement,tag=value,…` per row (tags sorted, empty values left out), built per category."""
    out = np.full(len(frame), measurement, dtype=object)
    for tag in sorted(tags):
        if tag not in frame.columns:
            continue
        col = frame[tag]
        if not isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(str).astype("category")
        # Escape each distinct value once, then index by the codes.
        texts = [f",{tag}={escape_tag_value(str(v))}" if str(v) != "" else "" for v in col.cat.categories]
        out = out + np.array([*texts, ""], dtype=object)[col.cat.codes.to_numpy()]
    return out


def _floats(values: pd.Series | np.ndarray) -> np.ndarray:
    """Float fields as text (shortest round-trip form); NaN/inf as None (the field is left out)."""
    a = np.asarray(values, dtype=np.float64)
    text = np.array(list(map(repr, a.tolist())), dtype=object)
    text[~np.isfinite(a)] = None
    return text


def _strings(values: pd.Series) -> np.ndarray:
    """String fields, quoted and escaped once per distinct value; an empty value as None (left out)."""
    col = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype(str).astype("category")
    quoted = [_str(v) if str(v) != "" else None for v in col.cat.categories]
    return np.array([*quoted, None], dtype=object)[col.cat.codes.to_numpy()]


def _str(v: object) -> str:
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _times_ms(starts: pd.Series) -> np.ndarray:
    ms = starts.astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    return np.array([" " + str(t) for t in ms.tolist()], dtype=object)


def _lines(prefix: np.ndarray, fields: list[tuple[str, np.ndarray]], times: np.ndarray) -> list[str]:
    """Assemble `prefix field=v,… time`, leaving out None values; a row with no field left is no point."""
    body = np.full(len(prefix), "", dtype=object)
    for name, vals in fields:
        present = np.array([v is not None for v in vals.tolist()], dtype=bool)
        part = np.where(present, f"{name}=" + np.where(present, vals, ""), "")
        body = body + np.where((body != "") & present, ",", "") + part
    keep = body != ""
    return list(prefix[keep] + " " + body[keep] + times[keep])


def energy_lines(energy: pd.DataFrame, *, fields: tuple[str, ...] | None = None) -> list[str]:
    """`energy` points: tags site/area/device/carrier/role/tou; fields amount, completeness, cost, status, tce_kg, unit.

    `fields` limits the fields written: a point keeps the fields it is not sent, so a
    recompute after a factor update rewrites only `tce_kg`.
    """
    if energy.empty:
        return []
    wanted = fields or ("amount", "completeness", "cost", "status", "tce_kg", "unit")
    cols = [(n, _strings(energy[n]) if n in ("status", "unit") else _floats(energy[n])) for n in sorted(wanted)]
    return _lines(_tag_prefix("energy", energy, ENERGY_TAGS), cols, _times_ms(energy["interval_start"]))


def emission_lines(emissions: pd.DataFrame) -> list[str]:
    """`emissions` points: tags site/area/device/carrier/role/scope/method; fields co2_kg, co2e_kg, factor, gwp."""
    if emissions.empty:
        return []
    cols = [
        ("co2_kg", _floats(emissions["co2_kg"])),
        ("co2e_kg", _floats(emissions["co2e_kg"])),
        ("factor", _strings(emissions["factor"])),
        ("gwp", _strings(emissions["gwp"])),
    ]
    return _lines(_tag_prefix("emissions", emissions, EMISSION_TAGS), cols, _times_ms(emissions["interval_start"]))


def write_results(
    target: InfluxTarget,
    energy: pd.DataFrame,
    emissions: pd.DataFrame,
    *,
    energy_fields: tuple[str, ...] | None = None,
    batch: int = 20_000,
) -> int:
    """Write energy and emissions rows to the metering bucket; returns the number of points."""
    from influxdb_client import WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS

    from core.influx import influx_client

    lines = energy_lines(energy, fields=energy_fields) + emission_lines(emissions)
    with influx_client(target, timeout_ms=120_000) as client:
        api = client.write_api(write_options=SYNCHRONOUS)
        for i in range(0, len(lines), batch):
            api.write(target.metering_bucket, target.org, "\n".join(lines[i : i + batch]), WritePrecision.MS)
    return len(lines)


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
