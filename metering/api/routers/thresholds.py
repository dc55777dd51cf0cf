"""Alert thresholds: anyone may read them; energy managers create, change and delete them (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status

from metering.alerts.rules import RuleSpec
from metering.api.deps import EnergyManager, Svc, Viewer
from metering.state.store import Conflict, NotFound
from plantcarbon_core.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1/thresholds", tags=["thresholds"])

RuleId = Annotated[str, Path(pattern=ID_PATTERN)]


def _reload(svc: Svc) -> None:
    if svc.alerts is not None:
        svc.alerts.reload()


@router.get("", summary="List thresholds")
def list_thresholds(_key: Viewer, svc: Svc) -> list[dict[str, Any]]:
    return svc.store.list_thresholds()


@router.get("/{rule_id}", summary="One threshold")
def get_threshold(_key: Viewer, svc: Svc, rule_id: RuleId) -> dict[str, Any]:
    try:
        return svc.store.get_threshold(rule_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a threshold")
def create_threshold(body: RuleSpec, key: EnergyManager, svc: Svc) -> dict[str, Any]:
    try:
        out = svc.store.create_threshold(body.model_dump(mode="json"), key.name)
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    _reload(svc)
    return out


@router.put("/{rule_id}", summary="Replace a threshold")
def update_threshold(body: RuleSpec, key: EnergyManager, svc: Svc, rule_id: RuleId) -> dict[str, Any]:
    if body.id != rule_id:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["body", "id"],
                    "msg": f"id {body.id!r} differs from the path's {rule_id!r}",
                    "type": "value_error",
                }
            ],
        )
    try:
        out = svc.store.update_threshold(body.model_dump(mode="json"), key.name)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    _reload(svc)
    return out


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a threshold")
def delete_threshold(key: EnergyManager, svc: Svc, rule_id: RuleId) -> Response:
    try:
        svc.store.delete_threshold(rule_id, key.name)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    _reload(svc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
