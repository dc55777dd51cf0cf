"""Demand-response events: create (energy manager), list, and the event report from the `dr` measurement."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from metering.alerts.rules import ID_PATTERN
from metering.api import queries
from metering.api.deps import EnergyManager, Svc, Viewer
from metering.api.params import MAX_T, MIN_T
from metering.state.store import Conflict, NotFound

router = APIRouter(prefix="/api/v1/dr/events", tags=["demand response"])

EventId = Annotated[str, Path(pattern=ID_PATTERN)]


class DrEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    site: str = Field(pattern=ID_PATTERN)
    start: AwareDatetime
    end: AwareDatetime
    target_kw: float = Field(gt=0, le=1e7, allow_inf_nan=False, description="Load reduction asked for (kW).")
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _window(self) -> DrEventIn:
        for t in (self.start, self.end):
            if not MIN_T <= t < MAX_T:
                raise ValueError("start and end must be between 2000-01-01 and 2100-01-01")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).total_seconds() > 24 * 3600:
            raise ValueError("a DR event lasts at most 24 h")
        return self


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a DR event")
def create_event(body: DrEventIn, key: EnergyManager, svc: Svc) -> dict[str, Any]:
    try:
        return svc.store.create_dr_event(body.model_dump(), key.name)
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.get("", summary="List DR events")
def list_events(_key: Viewer, svc: Svc) -> list[dict[str, Any]]:
    return svc.store.list_dr_events()


@router.get("/{event_id}", summary="One DR event")
def get_event(_key: Viewer, svc: Svc, event_id: EventId) -> dict[str, Any]:
    try:
        return svc.store.get_dr_event(event_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.get("/{event_id}/report", summary="DR event report: baseline, actual and reduction against the target")
def event_report(_key: Viewer, svc: Svc, event_id: EventId) -> dict[str, Any]:
    ev = get_event(_key, svc, event_id)
    df = queries.dr_series(svc.influx, ev["site"], event_id, ev["start"], ev["end"])
    rows = queries.records(df, ["time", "baseline_kw", "actual_kw", "reduction_kw"])
    mean = {
        k: (float(df[k].mean()) if not df.empty and k in df.columns else None)
        for k in ("baseline_kw", "actual_kw", "reduction_kw")
    }
    red = mean["reduction_kw"]
    return {
        "event": ev,
        "intervals": len(rows),
        "mean_baseline_kw": mean["baseline_kw"],
        "mean_actual_kw": mean["actual_kw"],
        "mean_reduction_kw": red,
        "achieved_pct": None if red is None else round(100 * red / ev["target_kw"], 2),
        "met": None if red is None else red >= ev["target_kw"],
        "rows": rows,
    }
