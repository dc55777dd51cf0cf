"""Demand-response events and programme rules: the model, and the parser for events from MQTT, CLI and API.

An event has a window (start, end), a requested reduction (kW below the baseline) or a target
(kW the site should stay at or below), the participating meters, and the programme's rules:
baseline method and its parameters, the performance band (minimum to be paid, maximum paid),
and the payment rate.

Bad input: `parse_event` takes anything an MQTT client or an API caller may send — not UTF-8,
not JSON, deeply nested JSON, huge numbers, JSON of the wrong shape, a window that ends
before it starts, a naive time, neither or both of reduction and target, an unknown baseline
method — and raises `EventError` with a short `reason` code and a message naming the field.
Nothing is stored from a bad payload.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from plantcarbon_core import datafile
from plantcarbon_core.wire import ID_PATTERN

BaselineMethod = Literal["10of10", "high4of5", "similar_day", "regression"]
EventStatus = Literal["scheduled", "active", "completed", "cancelled"]
EventSource = Literal["cli", "api", "mqtt", "openadr"]
_ID = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class Programme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    baseline: BaselineMethod = "10of10"
    baseline_params: dict[str, Any] = {}
    # Paid only when the average reduction reaches this share of the request …
    min_performance_pct: float = Field(default=80.0, ge=0, le=1000)
    # … and paid for at most this share (over-delivery is not paid).
    max_performance_pct: float = Field(default=120.0, ge=0, le=1000)
    payment_rate: float = Field(default=0.0, ge=0)
    # kw: rate × verified average kW (per event, as Jiangsu pays 元/kW); kwh: rate × reduced kWh.
    payment_basis: Literal["kw", "kwh"] = "kw"
    currency: str = "CNY"

    @model_validator(mode="after")
    def _band(self) -> Programme:
        if self.max_performance_pct < self.min_performance_pct:
            raise ValueError("max_performance_pct must be >= min_performance_pct")
        return self


class DrEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: "ev-" + uuid.uuid4().hex[:10], pattern=_ID)
    site: str = Field(pattern=ID_PATTERN)
    start: dt.datetime
    end: dt.datetime
    requested_reduction_kw: float | None = Field(default=None, gt=0)
    target_kw: float | None = Field(default=None, ge=0)
    meters: list[str] = Field(min_length=1)
    programme: Programme = Programme()
    source: EventSource = "cli"
    status: EventStatus = "scheduled"
    note: str | None = Field(default=None, max_length=2000)  # a payload may be hostile: bounded

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("must carry a time zone offset, e.g. 2025-07-15T14:00:00+08:00")
        return v

    @model_validator(mode="after")
    def _checks(self) -> DrEvent:
        if self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} must be after start {self.start.isoformat()}")
        if self.end - self.start > dt.timedelta(hours=24):
            raise ValueError("an event lasts at most 24 hours")
        if (self.requested_reduction_kw is None) == (self.target_kw is None):
            raise ValueError("give exactly one of requested_reduction_kw and target_kw")
        return self


class EventError(ValueError):
    """A DR event payload that cannot be accepted; `reason` is a short code for counting."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


def parse_event(
    payload: bytes | str | dict[str, Any], *, site: str | None = None, source: EventSource = "mqtt"
) -> DrEvent:
    """A DrEvent from JSON bytes/text or a dict; `site` (from the topic) fills or must match the payload's."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise EventError("not_utf8", "payload is not UTF-8") from None
    if isinstance(payload, str):
        try:
            doc = json.loads(payload)
        except RecursionError:
            raise EventError("not_json", "payload is nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError, or an integer past Python's digit limit
            raise EventError("not_json", f"payload is not JSON: {str(exc)[:200]}") from None
    else:
        doc = payload
    if not isinstance(doc, dict):
        raise EventError("bad_shape", f"payload must be a JSON object, got {type(doc).__name__}")
    doc = dict(doc)
    if site is not None:
        if doc.get("site", site) != site:
            raise EventError("site_mismatch", f"payload site {doc.get('site')!r} does not match topic site {site!r}")
        doc["site"] = site
    doc.setdefault("source", source)
    try:
        return DrEvent.model_validate(doc)
    except ValidationError as exc:
        # A payload is not a file: the data-file wording without a file name, on one line for the log.
        lines = [str(p) for p in datafile.problems(exc, doc, "")]
        raise EventError("invalid", "; ".join(lines)) from None


def from_api_event(row: dict[str, Any], meters: list[str], programme: Programme | None = None) -> DrEvent:
    """A DrEvent from the API store's event dict (metering/state: id, site, start, end, target_kw, note).

    The API's `target_kw` is the reduction asked for, i.e. our `requested_reduction_kw`. The API
    does not yet hold meters or programme rules: the caller passes the participating meters
    (usually the plant's main electricity meters) and the programme (default rules otherwise).
    """
    doc: dict[str, Any] = {
        "id": row["id"],
        "site": row["site"],
        "start": row["start"],
        "end": row["end"],
        "requested_reduction_kw": row["target_kw"],
        "meters": meters,
        "source": "api",
        "note": row.get("note") or None,
    }
    if programme is not None:
        doc["programme"] = programme.model_dump()
    return parse_event(doc, source="api")
