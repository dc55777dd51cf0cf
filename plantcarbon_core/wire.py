"""The MQTT wire contract v1: topic builder and parser, and the reading-batch codec.

Bad input: `decode_batch` expects anything on a data topic — not UTF-8, not JSON, deeply
nested JSON, JSON of the wrong shape, wrong schema, non-finite, non-numeric or huge values
(a 400-digit integer overflows a float; 5,000 digits pass Python's int limit), quantity names
that are storage tag keys, timestamps outside 2000..2100, an empty sample list. It never
returns a partial batch and raises nothing but `WireError`, with a short `reason` code (for
dead-letter counting) and a message naming the place.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA = "pc.readings/1"
DEFAULT_PREFIX = "pc"

# Site, device and rule ids: safe in MQTT topics, InfluxDB tags and file names. The one copy for every part.
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_ID = re.compile(ID_PATTERN)
_QUANTITY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Epoch milliseconds between 2000-01-01 and 2100-01-01: anything else is a broken clock.
TS_MIN_MS = 946_684_800_000
TS_MAX_MS = 4_102_444_800_000
MAX_SAMPLES = 100_000
MAX_SEQ = 2**63 - 1  # InfluxDB integers are signed 64-bit
# Longest integer literal accepted anywhere in a payload: a 64-bit seq or a counter fits in 20
# digits; longer ones are junk and are refused before Python converts them (that costs
# quadratic time and raises ValueError past 4,300 digits).
MAX_INT_DIGITS = 40
# Quantity names that would equal a tag key (or InfluxQL's `time`) of the stored point: with
# such a field, `WHERE site = …` matches the field and the measurement drops out of queries.
RESERVED_NAMES = frozenset({"site", "device", "area", "kind", "edge", "time"})
MAX_REASON_LEN = 200
# Quantity names already checked against _QUANTITY (a cache: the regex is the hot path).
_GOOD_NAMES: set[str] = set()


class WireError(ValueError):
    """A payload that breaks the contract; `reason` is a short code, the message says where."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Sample:
    ts: int  # epoch ms UTC, when the edge read the values
    values: dict[str, float]
    bad: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    edge: str
    device: str
    seq: int
    samples: list[Sample]
    schema: str = SCHEMA


def encode_batch(batch: ReadingBatch) -> bytes:
    doc: dict[str, Any] = {
        "schema": batch.schema,
        "edge": batch.edge,
        "device": batch.device,
        "seq": batch.seq,
        "samples": [{"ts": s.ts, "values": s.values, **({"bad": s.bad} if s.bad else {})} for s in batch.samples],
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")


def decode_batch(payload: bytes | str) -> ReadingBatch:
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError("not_utf8", f"payload is not UTF-8 (byte {exc.start})") from None
    else:
        text = payload
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except _NonFinite as exc:
        raise WireError("bad_value", f"payload holds {exc.args[0]}, which JSON does not allow") from None
    except _HugeInt as exc:
        raise WireError("bad_value", f"payload holds an integer of {exc.args[0]} digits") from None
    except RecursionError:
        raise WireError("not_json", "payload is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and any other refusal of the decoder
        raise WireError("not_json", f"payload is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise WireError("bad_shape", f"payload must be a JSON object, got {type(doc).__name__}")
    schema = doc.get("schema")
    if schema != SCHEMA:
        raise WireError("bad_schema", f"schema must be {SCHEMA!r}, got {schema!r}")
    unknown = set(doc) - {"schema", "edge", "device", "seq", "samples"}
    if unknown:
        raise WireError("bad_shape", f"unknown top-level keys {sorted(unknown)}")
    edge = _ident(doc, "edge")
    device = _ident(doc, "device")
    seq = doc.get("seq")
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise WireError("bad_seq", f"seq must be an integer in 0..2^63-1, got {seq!r}")
    raw_samples = doc.get("samples")
    if not isinstance(raw_samples, list):
        raise WireError("bad_shape", f"samples must be a list, got {type(raw_samples).__name__}")
    if not raw_samples:
        raise WireError("no_samples", "samples is empty")
    if len(raw_samples) > MAX_SAMPLES:
        raise WireError("too_many_samples", f"{len(raw_samples)} samples, at most {MAX_SAMPLES}")
    samples = [_sample(i, s) for i, s in enumerate(raw_samples)]
    return ReadingBatch(edge=edge, device=device, seq=seq, samples=samples)


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonFinite(name)


class _HugeInt(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise _HugeInt(len(text.lstrip("-")))
    return int(text)


def check_quantity(name: str, where: str) -> None:
    """Raise WireError('bad_quantity') unless `name` is a quantity name a point may carry."""
    if not _QUANTITY.match(name):
        raise WireError("bad_quantity", f"{where}: bad quantity name {name!r}")
    if name in RESERVED_NAMES:
        raise WireError("bad_quantity", f"{where}: {name!r} is a reserved name (a tag key), not a quantity")


def _ident(doc: dict[str, Any], key: str) -> str:
    v = doc.get(key)
    if not isinstance(v, str) or not _ID.match(v):
        raise WireError(f"bad_{key}", f"{key} must be an id like 'tr-01' ([a-z0-9_-]), got {v!r}")
    return v


def _sample(i: int, s: Any) -> Sample:
    where = f"samples[{i}]"
    if not isinstance(s, dict):
        raise WireError("bad_shape", f"{where} must be an object, got {type(s).__name__}")
    unknown = set(s) - {"ts", "values", "bad"}
    if unknown:
        raise WireError("bad_shape", f"{where}: unknown keys {sorted(unknown)}")
    ts = s.get("ts")
    if type(ts) is not int:
        raise WireError("bad_ts", f"{where}.ts must be integer epoch milliseconds, got {ts!r}")
    if not TS_MIN_MS <= ts < TS_MAX_MS:
        raise WireError("bad_ts", f"{where}.ts {ts} is outside 2000..2100 (epoch ms)")
    values = s.get("values", {})
    if not isinstance(values, dict):
        raise WireError("bad_shape", f"{where}.values must be an object")
    out: dict[str, float] = {}
    for name, v in values.items():
        if name not in _GOOD_NAMES:
            check_quantity(name, f"{where}.values")
            if len(_GOOD_NAMES) < 10_000:  # names repeat in every batch; bounded against junk
                _GOOD_NAMES.add(name)
        # bool is an int in Python; a true/false reading is not a number.
        tv = type(v)
        if tv is float:
            fv = v
        elif tv is int:
            try:
                fv = float(v)
            except OverflowError:
                raise WireError("bad_value", f"{where}.values.{name} is too large for a float") from None
        else:
            raise WireError("bad_value", f"{where}.values.{name} must be a number, got {v!r}")
        # JSON has no NaN/Infinity literals (rejected above) but 1e999 parses as inf.
        if not math.isfinite(fv):
            raise WireError("bad_value", f"{where}.values.{name} is not finite")
        out[name] = fv
    bad = s.get("bad", {})
    if not isinstance(bad, dict):
        raise WireError("bad_shape", f"{where}.bad must be an object")
    for name, reason in bad.items():
        check_quantity(name, f"{where}.bad")
        if not isinstance(reason, str) or len(reason) > MAX_REASON_LEN:
            raise WireError("bad_shape", f"{where}.bad.{name} must be a short reason string")
        if name in out:
            raise WireError("bad_shape", f"{where}: {name!r} is both a value and bad")
    if not out and not bad:
        raise WireError("no_values", f"{where} has neither values nor bad entries")
    return Sample(ts=ts, values=out, bad=dict(bad))


# --- topics ---------------------------------------------------------------------------

TopicKind = Literal["data", "status", "edge_status", "alert", "dlq", "dr_events"]


@dataclass(frozen=True, slots=True)
class Topic:
    kind: TopicKind
    site: str | None = None
    device: str | None = None  # device id (data, status)
    edge: str | None = None  # edge id (edge_status)
    rule: str | None = None  # alert rule id
    component: str | None = None  # dlq component


def data_topic(site: str, device: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{site}/{device}/data"


def status_topic(site: str, device: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{site}/{device}/status"


def edge_status_topic(site: str, edge: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{site}/_edge/{edge}/status"


def alert_topic(site: str, rule: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{site}/alerts/{rule}"


def dr_events_topic(site: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{site}/dr/events"


def dlq_topic(component: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/_dlq/{component}"


def data_subscription(prefix: str = DEFAULT_PREFIX, share_group: str | None = None) -> str:
    """`pc/+/+/data`, or `$share/<group>/pc/+/+/data` for an MQTT 5 shared subscription."""
    topic = f"{prefix}/+/+/data"
    return f"$share/{share_group}/{topic}" if share_group else topic


def parse_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> Topic:
    """Raises WireError('bad_topic', ...) for a topic outside the contract."""
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != prefix:
        raise WireError("bad_topic", f"topic {topic!r} is not under {prefix}/")
    if parts[1] == "_dlq" and len(parts) == 3:
        return Topic("dlq", component=parts[2])
    site = parts[1]
    if not _ID.match(site):
        raise WireError("bad_topic", f"topic {topic!r}: bad site id {site!r}")
    rest = parts[2:]
    if len(rest) == 2 and rest[1] in ("data", "status") and _ID.match(rest[0]):
        return Topic("data" if rest[1] == "data" else "status", site=site, device=rest[0])
    if len(rest) == 3 and rest[0] == "_edge" and rest[2] == "status" and _ID.match(rest[1]):
        return Topic("edge_status", site=site, edge=rest[1])
    if len(rest) == 2 and rest[0] == "alerts" and _ID.match(rest[1]):
        return Topic("alert", site=site, rule=rest[1])
    if rest == ["dr", "events"]:
        return Topic("dr_events", site=site)
    raise WireError("bad_topic", f"topic {topic!r} is not a plantcarbon v1 topic")


def status_payload(online: bool, ts_ms: int, error: str | None = None, **extra: Any) -> bytes:
    doc: dict[str, Any] = {"online": online, "ts": ts_ms, **extra}
    if error is not None:
        doc["error"] = error
    return json.dumps(doc, separators=(",", ":")).encode("utf-8")
