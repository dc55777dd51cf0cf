"""MQTT source: a device's own JSON payload → a sample, per the plant file's field mapping; pure.

Bad input: anything may arrive on a device's topic. `map_payload` expects payloads that are
not UTF-8 or not JSON, JSON nested deeper than the parser allows, integers longer than
Python's digit limit (4,300 digits), JSON that is not an object, objects with none of the
mapped fields, timestamps that are missing, unparsable or outside 2000..2100. Those raise
`PayloadError` with a short `kind` (the agent counts it, logs the first of each kind, drops
the payload); `PayloadError` is the only exception it raises. A mapped field that is
missing, not a number (booleans and strings included), NaN, infinite or too large for a
float (a 400-digit integer) does not drop the payload: it becomes a `bad` entry with the
reason, like a bad register. Messages quote at most 40 characters of what arrived.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from plantcarbon_core.plant import MqttSource
from plantcarbon_core.wire import TS_MAX_MS, TS_MIN_MS, Sample


class PayloadError(ValueError):
    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


_MISSING = object()


def lookup(doc: Any, path: str) -> Any:
    """'ENERGY.Power' → doc['ENERGY']['Power']; a numeric part indexes a list. _MISSING if absent."""
    node = doc
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _quote(raw: Any) -> str:
    """At most 40 characters of a JSON value, whatever its size or depth."""
    if isinstance(raw, list | dict):
        return f"a JSON {'list' if isinstance(raw, list) else 'object'}"
    return json.dumps(raw)[:40]


def parse_timestamp(raw: Any, fmt: str) -> int:
    """Epoch seconds/milliseconds or ISO 8601 → epoch ms; ValueError when it cannot be one."""
    if fmt == "iso8601":
        if not isinstance(raw, str):
            raise ValueError(f"expected an ISO 8601 string, got {repr(raw)[:40]}")
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            # Devices that send local time without an offset cannot be placed on UTC safely.
            raise ValueError(f"ISO 8601 time without a UTC offset: {raw!r}")
        return int(dt.timestamp() * 1000)
    if type(raw) not in (int, float) or not math.isfinite(raw):
        unit = "seconds" if fmt == "epoch_s" else "milliseconds"
        raise ValueError(f"expected a number of {unit}, got {repr(raw)[:40]}")
    return round(raw * 1000) if fmt == "epoch_s" else int(raw)


def map_payload(src: MqttSource, payload: bytes, arrival_ms: int) -> Sample:
    try:
        doc = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadError("not_utf8", "payload is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError("not_json", f"payload is not JSON: {str(exc)[:120]}") from None
    except ValueError as exc:  # an integer beyond Python's int-digit limit
        raise PayloadError("huge_number", f"payload holds a number too long to read: {str(exc)[:80]}") from None
    if not isinstance(doc, dict):
        raise PayloadError("not_object", f"payload must be a JSON object, got {type(doc).__name__}")
    if src.timestamp == "arrival":
        ts = arrival_ms
    else:
        raw = lookup(doc, src.timestamp)
        if raw is _MISSING:
            raise PayloadError("no_timestamp", f"timestamp path {src.timestamp!r} is not in the payload")
        try:
            ts = parse_timestamp(raw, src.timestamp_format)
        except (ValueError, OverflowError) as exc:
            raise PayloadError("bad_timestamp", f"timestamp {src.timestamp!r}: {str(exc)[:120]}") from None
        if not TS_MIN_MS <= ts < TS_MAX_MS:
            raise PayloadError("bad_timestamp", f"timestamp {ts} ms is outside 2000..2100")
    values: dict[str, float] = {}
    bad: dict[str, str] = {}
    present = 0
    for quantity, f in src.fields.items():
        raw = lookup(doc, f.path)
        if raw is _MISSING:
            bad[quantity] = f"missing in payload ({f.path})"
            continue
        present += 1
        if type(raw) not in (int, float):
            bad[quantity] = f"not a number: {_quote(raw)}"
            continue
        try:
            value = float(raw) * f.scale + f.offset
        except OverflowError:  # an integer too large for a float
            value = math.inf
        if not math.isfinite(value):
            bad[quantity] = "not finite"
            continue
        values[quantity] = float(value)
    if not present:
        raise PayloadError("no_fields", f"none of the mapped paths {[f.path for f in src.fields.values()]} is present")
    return Sample(ts=ts, values=values, bad=bad)
