"""The audit log: who changed which threshold, factor, tariff, DR event, key, filing month or evidence, and when."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from metering.api.deps import EnergyManager, Principal, Svc, Viewer

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit", summary="Audit log, newest first")
def list_audit(
    _key: EnergyManager,
    svc: Svc,
    entity: Literal["threshold", "factor", "tariff", "dr_event", "api_key", "compliance_month", "evidence"]
    | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return svc.store.list_audit(entity, limit)


@router.get("/me", summary="The calling key's name and role")
def whoami(key: Viewer) -> dict[str, Any]:
    p: Principal = key
    return {"name": p.name, "role": p.role}
