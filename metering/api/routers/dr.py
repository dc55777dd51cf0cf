"""Demand-response events: create (energy manager), list, and the event report from the `dr` measurement.

Events live in the DR engine's own store (`metering.dr.store`), shared with `plantcarbon dr`
and the MQTT intake, so an event from any of them shows here. The model is `metering.dr.events.DrEvent`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status

from metering.api import queries
from metering.api.deps import EnergyManager, Svc, Viewer
from metering.api.params import MAX_T, MIN_T
from metering.dr.events import DrEvent
from metering.dr.store import DuplicateEvent
from plantcarbon_core.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1/dr/events", tags=["demand response"])

EventId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]


def _bad(loc: list[str], msg: str) -> HTTPException:
    return HTTPException(422, [{"loc": loc, "msg": msg, "type": "value_error"}])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a DR event")
def create_event(body: DrEvent, key: EnergyManager, svc: Svc) -> dict[str, Any]:
    for name in ("start", "end"):
        if not MIN_T <= getattr(body, name) < MAX_T:
            raise _bad(["body", name], "must be between 2000-01-01 and 2100-01-01")
    if svc.plant is not None:
        unknown = [m for m in body.meters if m not in svc.plant.device_ids]
        if unknown:
            raise _bad(["body", "meters"], f"unknown devices {unknown} (the plant has {svc.plant.device_ids})")
        if body.site != svc.plant.site.id:
            raise _bad(["body", "site"], f"this service meters site {svc.plant.site.id!r}, got {body.site!r}")
    ev = body.model_copy(update={"source": "api", "status": "scheduled"})
    try:
        svc.dr_events.get(ev.id)
        raise HTTPException(status.HTTP_409_CONFLICT, f"DR event {ev.id!r} exists")
    except KeyError:
        pass
    try:
        svc.dr_events.add(ev)
    except DuplicateEvent as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    doc = ev.model_dump(mode="json")
    svc.store.record_audit(key.name, "create", "dr_event", ev.id, None, doc)
    return doc


@router.get("", summary="List DR events")
def list_events(
    _key: Viewer, svc: Svc, site: Annotated[str | None, Query(pattern=ID_PATTERN)] = None
) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in svc.dr_events.list(site)]


def _get(svc: Svc, event_id: str) -> DrEvent:
    try:
        return svc.dr_events.get(event_id)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no DR event {event_id!r}") from None


@router.get("/{event_id}", summary="One DR event")
def get_event(_key: Viewer, svc: Svc, event_id: EventId) -> dict[str, Any]:
    return _get(svc, event_id).model_dump(mode="json")


@router.get("/{event_id}/report", summary="DR event report: baseline, actual and reduction against the request")
def event_report(_key: Viewer, svc: Svc, event_id: EventId) -> dict[str, Any]:
    ev = _get(svc, event_id)
    df = queries.dr_series(svc.influx, ev.site, ev.id, ev.start, ev.end)
    rows = queries.records(df, ["time", "baseline_kw", "actual_kw", "reduction_kw", "requested_kw", "on_track"])

    def mean(col: str) -> float | None:
        return float(df[col].mean()) if not df.empty and col in df.columns and df[col].notna().any() else None

    red, actual = mean("reduction_kw"), mean("actual_kw")
    achieved = met = None
    if ev.requested_reduction_kw is not None and red is not None:
        achieved = round(100 * red / ev.requested_reduction_kw, 2)
        met = achieved >= ev.programme.min_performance_pct
    elif ev.target_kw is not None and actual is not None:
        met = actual <= ev.target_kw
    return {
        "event": ev.model_dump(mode="json"),
        "intervals": len(rows),
        "mean_baseline_kw": mean("baseline_kw"),
        "mean_actual_kw": actual,
        "mean_reduction_kw": red,
        "achieved_pct": achieved,
        "met": met,
        "rows": rows,
    }
