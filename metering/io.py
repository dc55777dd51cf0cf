"""Metering I/O at the edges: raw readings from InfluxDB or CSV, energy/emissions rows to line protocol and back out.

Bad input: a readings CSV may miss columns, hold unparsable times or non-numeric values.
`read_readings_csv` raises `ValueError` naming the file and the missing columns or the
first bad row; rows with an empty or non-numeric value are dropped and counted (the
engine treats them as a gap), never guessed.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from metering.carbon.energy import stored_energy_rows
from metering.carbon.intervals import GAUGE_FOR_COUNTER, READING_COLUMNS, wide_to_long
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxQLError, InfluxTarget, escape_tag_value, influxql, quote_ident, quote_literal
from plantcarbon_core.plant import Plant
from plantcarbon_core.quantities import counters
from plantcarbon_core.quantities import registry as quantity_registry


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
    """Stored `energy` points of the site in [start, end) as energy rows (`ENERGY_COLUMNS`), to be priced again.

    Reads `amount` and `tce_kg` (as stored, to be compared with the new value) with the tags;
    see `metering.carbon.energy.stored_energy_rows` for what is not stored.
    """
    head = "SELECT amount, tce_kg FROM energy"
    ids = [d.id for d in plant.devices] + [f"{d.id}:unmetered" for d in plant.devices]
    ids += [v.id for v in plant.virtual_meters]
    queries = _device_queries(head, plant, ids, start, end, parallel, "*")
    frames = [f for f in _run(target, target.metering_bucket, queries, parallel) if not f.empty]
    if not frames:
        return stored_energy_rows(pd.DataFrame(), plant)
    wide = pd.concat(frames, ignore_index=True)
    stored = pd.DataFrame(_split_tags(wide["tags"], ("site", "area", "device", "carrier", "role", "tou")))
    stored["interval_start"] = wide["time"]
    stored["amount"] = pd.to_numeric(wide["amount"], errors="coerce")
    stored["tce_kg"] = pd.to_numeric(wide["tce_kg"], errors="coerce") if "tce_kg" in wide.columns else np.nan
    return stored_energy_rows(stored, plant)


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
    """`measurement,tag=value,…` per row (tags sorted, empty values left out), built once per series."""
    names = [t for t in sorted(tags) if t in frame.columns]
    cols = [
        frame[t] if isinstance(frame[t].dtype, pd.CategoricalDtype) else frame[t].astype(str).astype("category")
        for t in names
    ]
    # One integer per row naming its tag set (re-numbered after each tag so it stays small),
    # then one text per tag set.
    which = np.zeros(len(frame), dtype=np.int64)
    for c in cols:
        which = pd.factorize(which * (len(c.cat.categories) + 1) + (c.cat.codes.to_numpy().astype(np.int64) + 1))[0]
    first = pd.Series(np.arange(len(which))).groupby(which).first().to_numpy()
    labels = [["" if pd.isna(x) else str(x) for x in c.to_numpy()[first]] for c in cols]
    texts = [
        measurement + "".join(f",{t}={escape_tag_value(v[i])}" for t, v in zip(names, labels, strict=True) if v[i])
        for i in range(len(first))
    ]
    return np.array(texts, dtype=object)[which]


def _float_parts(name: str, values: pd.Series) -> list[str]:
    """`,name=value` per row (shortest round-trip text); "" where the value is NaN or infinite (left out)."""
    a = np.asarray(values, dtype=np.float64)
    return [f",{name}={v!r}" if math.isfinite(v) else "" for v in a.tolist()]


def _string_parts(name: str, values: pd.Series) -> list[str]:
    """`,name="value"` per row, quoted and escaped once per distinct value; "" where the value is empty."""
    col = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype(str).astype("category")
    texts = [f",{name}={_str(v)}" if str(v) != "" else "" for v in col.cat.categories]
    return list(np.array([*texts, ""], dtype=object)[col.cat.codes.to_numpy()])


def _str(v: object) -> str:
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lines(prefix: np.ndarray, parts: list[list[str]], starts: pd.Series) -> list[str]:
    """`prefix field=v,… time` per row from per-field `,field=v` parts; a row with no field left is no point."""
    times = starts.astype("datetime64[ms, UTC]").astype("int64").to_numpy().tolist()
    bodies = ["".join(row) for row in zip(*parts, strict=True)]
    return [f"{p} {b[1:]} {t}" for p, b, t in zip(prefix.tolist(), bodies, times, strict=True) if b]


def energy_lines(energy: pd.DataFrame, *, fields: tuple[str, ...] | None = None) -> list[str]:
    """`energy` points: tags site/area/device/carrier/role/tou; fields amount, completeness, cost, status, tce_kg, unit.

    `fields` limits the fields written: a point keeps the fields it is not sent, so a
    recompute after a factor update rewrites only `tce_kg`.
    """
    if energy.empty:
        return []
    wanted = sorted(fields or sc.ENERGY_FIELDS)
    parts = [_string_parts(n, energy[n]) if n in ("status", "unit") else _float_parts(n, energy[n]) for n in wanted]
    return _lines(_tag_prefix(sc.ENERGY, energy, sc.ENERGY_TAGS), parts, energy["interval_start"])


def emission_lines(emissions: pd.DataFrame) -> list[str]:
    """`emissions` points: tags site/area/device/carrier/role/scope/method; fields co2_kg, co2e_kg, factor, gwp, ncv.

    `ncv` (the net calorific value a fuel row used besides its factor) is left out where empty.
    """
    if emissions.empty:
        return []
    parts = [
        _float_parts("co2_kg", emissions["co2_kg"]),
        _float_parts("co2e_kg", emissions["co2e_kg"]),
        _string_parts("factor", emissions["factor"]),
        _string_parts("gwp", emissions["gwp"]),
    ]
    if "ncv" in emissions.columns:
        parts.append(_string_parts("ncv", emissions["ncv"]))
    return _lines(_tag_prefix(sc.EMISSIONS, emissions, sc.EMISSION_TAGS), parts, emissions["interval_start"])


def delete_emissions(
    target: InfluxTarget, site: str, devices: Iterable[str], start: pd.Timestamp, end: pd.Timestamp
) -> None:
    """Delete the `emissions` points of these devices in [start, end) (one delete per device:
    InfluxDB's delete predicate has no OR). For rows that must not exist, e.g. of an internal
    transfer that an older plant file took as purchased; other points are left alone."""
    from plantcarbon_core.influx import influx_client

    stop = end - pd.Timedelta(milliseconds=1)  # the delete API's stop is inclusive
    with influx_client(target, timeout_ms=120_000) as client:
        api = client.delete_api()
        for dev in devices:
            predicate = f'_measurement="{sc.EMISSIONS}" AND site="{site}" AND device="{dev}"'
            api.delete(start.to_pydatetime(), stop.to_pydatetime(), predicate, target.metering_bucket, target.org)


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

    from plantcarbon_core.influx import influx_client

    lines = energy_lines(energy, fields=energy_fields) + emission_lines(emissions)
    with influx_client(target, timeout_ms=120_000) as client:
        api = client.write_api(write_options=SYNCHRONOUS)

        def send(i: int) -> None:
            api.write(target.metering_bucket, target.org, "\n".join(lines[i : i + batch]), WritePrecision.MS)

        # Two requests in flight: InfluxDB parses and indexes one batch while the next arrives.
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(send, range(0, len(lines), batch)))
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
            raise ValueError(f"{path}: unknown quantities {unknown} (see plantcarbon_core/quantities.yaml)")
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
    e = energy.assign(measurement=sc.ENERGY)
    m = emissions.assign(measurement=sc.EMISSIONS)
    out = pd.concat([e, m], ignore_index=True)
    cols = ["measurement", *[c for c in out.columns if c != "measurement"]]
    out = out[cols]
    out["interval_start"] = pd.to_datetime(out["interval_start"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out
