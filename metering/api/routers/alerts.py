"""Alerts: anyone may list them; operators acknowledge them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status

from metering.api.deps import Operator, Svc, Viewer
from metering.state.store import Conflict, NotFound

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("", summary="List alerts, newest first")
def list_alerts(
    _key: Viewer,
    svc: Svc,
    state: Literal["open", "firing", "acknowledged", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return svc.store.list_alerts(state, limit)


@router.get("/{alert_id}", summary="One alert")
def get_alert(_key: Viewer, svc: Svc, alert_id: AlertId) -> dict[str, Any]:
    try:
        return svc.store.get_alert(alert_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.post("/{alert_id}/acknowledge", summary="Acknowledge a firing alert")
def acknowledge(key: Operator, svc: Svc, alert_id: AlertId) -> dict[str, Any]:
    try:
        if svc.alerts is not None:
            return dict(svc.alerts.acknowledge(alert_id, key.name))
        return svc.store.acknowledge_alert(alert_id, key.name)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
