"""OpenADR 2.0b intake: a VEN (openleadr) that turns the VTN's events into DR events and stores them.

Signals understood (OpenADR 2.0b signal name / type):
- `LOAD_DISPATCH` / `delta`: the payload is the change of load in kW (negative = reduce); the
  largest reduction over the event's intervals becomes `requested_reduction_kw`;
- `LOAD_DISPATCH` / `setpoint`: the payload is the load to stay at or below → `target_kw`
  (the lowest setpoint over the intervals);
- `SIMPLE` / `level`: levels 1..3 mapped to kW of reduction by `simple_levels_kw` (the
  programme's table); without a mapping the event cannot be quantified.

Bad input: an event the VEN cannot turn into a DrEvent (unknown signal, SIMPLE without a
mapping, no interval, a window the DrEvent model refuses) is answered `optOut`, counted by
reason, logged once per reason; the VEN keeps polling.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from typing import Any

from openleadr import OpenADRClient

from metering.dr.events import DrEvent, EventError, Programme, parse_event
from metering.dr.store import DuplicateEvent, EventStore

log = logging.getLogger(__name__)
_BAD_ID = re.compile(r"[^a-z0-9_.-]+")


def event_from_oadr(
    event: dict[str, Any],
    *,
    site: str,
    meters: list[str],
    programme: Programme | None = None,
    simple_levels_kw: dict[int, float] | None = None,
) -> DrEvent:
    """A DrEvent from openleadr's parsed `oadrEvent` dict; raises EventError when it cannot."""
    desc = event.get("event_descriptor") or {}
    period = event.get("active_period") or {}
    signals = event.get("event_signals") or []
    start = period.get("dtstart")
    duration = period.get("duration")
    if not isinstance(start, dt.datetime) or not isinstance(duration, dt.timedelta):
        raise EventError("bad_shape", "oadrEvent has no active period (dtstart, duration)")
    doc: dict[str, Any] = {
        "id": "oadr-" + _BAD_ID.sub("-", str(desc.get("event_id", "")).lower()).strip("-")[:50],
        "site": site,
        "start": start,
        "end": start + duration,
        "meters": meters,
        "note": f"OpenADR {desc.get('market_context', '')} modification {desc.get('modification_number', 0)}",
    }
    if programme is not None:
        doc["programme"] = programme.model_dump()
    quantity: tuple[str, float] | None = None
    for sig in signals:
        name, kind = sig.get("signal_name"), sig.get("signal_type")
        payloads = [float(i["signal_payload"]) for i in sig.get("intervals") or [] if "signal_payload" in i]
        if not payloads:
            continue
        if name == "LOAD_DISPATCH" and kind == "delta":
            quantity = ("requested_reduction_kw", max(-p for p in payloads))
        elif name == "LOAD_DISPATCH" and kind == "setpoint":
            quantity = ("target_kw", min(payloads))
        elif name == "SIMPLE" and kind == "level":
            if not simple_levels_kw:
                raise EventError("unmapped_simple", "SIMPLE level events need the programme's level → kW table")
            level = int(max(payloads))
            if level not in simple_levels_kw:
                raise EventError("unmapped_simple", f"SIMPLE level {level} is not in the level → kW table")
            quantity = ("requested_reduction_kw", simple_levels_kw[level])
        if quantity is not None:
            break
    if quantity is None:
        names = [f"{s.get('signal_name')}/{s.get('signal_type')}" for s in signals]
        raise EventError("unsupported_signal", f"no usable signal in the event (got {names})")
    doc[quantity[0]] = quantity[1]
    return parse_event(doc, source="openadr")


class OadrVen:
    """An openleadr VEN for one site: `await start()` registers and polls; `await stop()` ends it."""

    def __init__(
        self,
        store: EventStore,
        vtn_url: str,
        *,
        ven_name: str,
        site: str,
        meters: list[str],
        programme: Programme | None = None,
        simple_levels_kw: dict[int, float] | None = None,
        allow_jitter: bool = True,
    ):
        self.store = store
        self.site, self.meters = site, meters
        self.programme, self.simple_levels_kw = programme, simple_levels_kw
        self.accepted: list[DrEvent] = []
        self.rejected: Counter[str] = Counter()
        self._logged: set[str] = set()
        # Signatures need certificates from the programme's PKI; without them, plain messages.
        # Jitter spreads many VENs' polls over time; tests turn it off.
        self.client = OpenADRClient(
            ven_name=ven_name, vtn_url=vtn_url, disable_signature=True, allow_jitter=allow_jitter
        )
        self.client.add_handler("on_event", self.on_event)

    async def start(self) -> None:
        await self.client.run()

    async def stop(self) -> None:
        await self.client.stop()

    async def on_event(self, event: dict[str, Any]) -> str:
        try:
            ev = event_from_oadr(
                event,
                site=self.site,
                meters=self.meters,
                programme=self.programme,
                simple_levels_kw=self.simple_levels_kw,
            )
            self.store.add(ev)
        except (EventError, DuplicateEvent) as exc:
            reason = getattr(exc, "reason", "duplicate_id")
            self.rejected[reason] += 1
            if reason not in self._logged:
                self._logged.add(reason)
                log.warning("OpenADR event refused (%s): %s", reason, exc)
            return "optOut"
        self.accepted.append(ev)
        return "optIn"
