"""InfluxDB helpers: client factory, line protocol for reading batches, InfluxQL reads as DataFrames.

Writes use influxdb-client; reads use InfluxQL over `/query` (bucket name as database) so the
same queries work on InfluxDB 1.8+, 2.x and 3.x. Line protocol is built here as text because
one `Point` object per value is the bottleneck at ingest rates; the escaping follows the
line-protocol reference and is property-tested against influxdb-client's own serializer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from influxdb_client import InfluxDBClient, WritePrecision

from plantcarbon_core.settings import Settings
from plantcarbon_core.wire import ReadingBatch


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    """Where to read and write: one InfluxDB org with its raw and metering buckets."""

    url: str
    org: str
    token: str = field(repr=False)  # never in logs or tracebacks
    raw_bucket: str = "raw"
    metering_bucket: str = "metering"

    @classmethod
    def from_settings(cls, s: Settings) -> InfluxTarget:
        return cls(
            url=s.influx_url,
            org=s.influx_org,
            token=s.influx_token.get_secret_value(),
            raw_bucket=s.influx_raw_bucket,
            metering_bucket=s.influx_metering_bucket,
        )


def influx_client(target: InfluxTarget, timeout_ms: int = 30_000, **kwargs: Any) -> InfluxDBClient:
    return InfluxDBClient(url=target.url, token=target.token, org=target.org, timeout=timeout_ms, **kwargs)


# --- line protocol ----------------------------------------------------------------------

_MEASUREMENT_ESC = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})
_KEY_ESC = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\r": r"\r", "\t": r"\t"})


# Backslashes are not escaped in names: line protocol reads a backslash before a character
# that needs no escaping literally. This matches influxdb-client's serializer.


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT_ESC)


def escape_key(name: str) -> str:
    """Tag keys and field keys."""
    return name.translate(_KEY_ESC)


def escape_tag_value(value: str) -> str:
    out = value.translate(_KEY_ESC)
    # A trailing backslash would escape the separator that follows it.
    return out + " " if out.endswith("\\") else out


def escape_string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_field_value(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"field value {value!r} is not finite")
        return _float(value)
    return escape_string_field(value)


def _float(value: float) -> str:
    # Whole floats without ".0", as influxdb-client writes them; still a float field (no "i").
    s = repr(value)
    return s[:-2] if s.endswith(".0") else s


def line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, float | int | bool | str],
    ts_ms: int,
) -> str:
    """One line of line protocol at millisecond precision; tags and fields sorted, empty tag values dropped."""
    if not fields:
        raise ValueError("a point needs at least one field")
    tag_part = "".join(f",{escape_key(k)}={escape_tag_value(v)}" for k, v in sorted(tags.items()) if v != "")
    field_part = ",".join(f"{escape_key(k)}={format_field_value(v)}" for k, v in sorted(fields.items()))
    return f"{escape_measurement(measurement)}{tag_part} {field_part} {ts_ms}"


@dataclass(frozen=True, slots=True)
class DeviceTags:
    """What the plant file says about a device, for tagging its readings."""

    site: str
    carrier: str  # the measurement
    area: str
    kind: str


def batch_lines(batch: ReadingBatch, dev: DeviceTags) -> list[str]:
    """A reading batch as line protocol: measurement = carrier, tags site/area/device/kind/edge.

    Values are always written as floats so a reading of `812` and one of `812.4` never make a
    field-type conflict. Samples with no good values give no line (bad entries are not fields).
    """
    prefix = escape_measurement(dev.carrier) + "".join(
        f",{k}={escape_tag_value(v)}"
        for k, v in (
            ("area", dev.area),
            ("device", batch.device),
            ("edge", batch.edge),
            ("kind", dev.kind),
            ("site", dev.site),
        )
        if v != ""
    )
    out: list[str] = []
    # Samples of one batch nearly always carry the same quantities: sort and escape the names
    # once per distinct key set, not once per value (this loop is ingest's hot path).
    last_keys: tuple[str, ...] = ()
    names: list[tuple[str, str]] = []
    for s in batch.samples:
        values = s.values
        if not values:
            continue
        keys = tuple(values)
        if keys != last_keys:
            last_keys = keys
            names = [(k, escape_key(k) + "=") for k in sorted(keys)]
        parts = []
        for k, prefix_eq in names:
            r = repr(float(values[k]))
            parts.append(prefix_eq + (r[:-2] if r.endswith(".0") else r))
        out.append(f"{prefix} {','.join(parts)} {s.ts}")
    return out


# --- InfluxQL reads ---------------------------------------------------------------------


class InfluxQLError(RuntimeError):
    """The server refused or failed an InfluxQL query; the message holds its words."""


def influxql(
    target: InfluxTarget,
    query: str,
    database: str | None = None,
    *,
    timeout_s: float = 30.0,
    client: httpx.Client | None = None,
) -> pd.DataFrame:
    """Run InfluxQL over `/query` and return one DataFrame of every series.

    Columns: `time` (UTC, tz-aware) when the result has one, the fields, one column per
    GROUP BY tag, and `_measurement`. Several statements separated by `;` are concatenated
    with a `_statement` column. An empty result is an empty DataFrame.
    """
    params = {"db": database or target.raw_bucket, "q": query, "epoch": "ms"}
    headers = {"Authorization": f"Token {target.token}", "Accept": "application/json"}
    owns = client is None
    http = client or httpx.Client(timeout=timeout_s)
    try:
        resp = http.get(f"{target.url.rstrip('/')}/query", params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise InfluxQLError(f"InfluxQL request to {target.url} failed: {exc}") from exc
    finally:
        if owns:
            http.close()
    if resp.status_code != 200:
        raise InfluxQLError(f"InfluxQL HTTP {resp.status_code}: {resp.text[:500]}")
    return results_to_frame(resp.json())


def results_to_frame(doc: Mapping[str, Any]) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    results = doc.get("results") or []
    for result in results:
        if "error" in result:
            raise InfluxQLError(f"InfluxQL error: {result['error']}")
        for series in result.get("series") or []:
            df = pd.DataFrame(series.get("values") or [], columns=series["columns"])
            for k, v in (series.get("tags") or {}).items():
                df[k] = v
            df["_measurement"] = series.get("name", "")
            if len(results) > 1:
                df["_statement"] = result.get("statement_id", 0)
            frames.append(df)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    if "time" in out.columns:
        out["time"] = pd.to_datetime(out["time"], unit="ms", utc=True)
    return out


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(value: str) -> str:
    """An InfluxQL string literal in single quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_lines(
    target: InfluxTarget, bucket: str, lines: Iterable[str], *, client: InfluxDBClient | None = None
) -> None:
    """Synchronous write of ready line protocol at millisecond precision (small writes, tools, tests)."""
    from influxdb_client.client.write_api import SYNCHRONOUS

    body = "\n".join(lines)
    if not body:
        return
    owns = client is None
    c = client or influx_client(target)
    try:
        c.write_api(write_options=SYNCHRONOUS).write(
            bucket=bucket,
            org=target.org,
            record=body,
            write_precision=WritePrecision.MS,  # type: ignore[arg-type]  # the constant is typed str
        )
    finally:
        if owns:
            c.close()
