"""The plant, its devices and emission units, from the plant file."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path, status

from metering.api.deps import Svc, Viewer
from metering.direct.config import CarbonConfigError, carbon_config
from plantcarbon_core.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1/plant", tags=["plant"])


def _plant(svc: Svc) -> Any:
    if svc.plant is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this service runs without a plant file")
    return svc.plant


@router.get("", summary="The plant: site, contract and metering options")
def get_plant(_key: Viewer, svc: Svc) -> dict[str, Any]:
    p = _plant(svc)
    return {
        "site": p.site.model_dump(),
        "contract": p.contract.model_dump(),
        "metering": p.metering.model_dump(),
        "devices": len(p.devices),
        "emission_units": _units(p),
    }


def _units(p: Any) -> list[dict[str, str]]:
    """The carbon block's emission units (the month pages list them); none without a valid block."""
    try:
        cfg, _ = carbon_config(p)
    except CarbonConfigError:
        return []
    return [{"id": u.id, "name": u.name} for u in cfg.units]


@router.get("/devices", summary="Every device of the plant")
def list_devices(_key: Viewer, svc: Svc) -> list[dict[str, Any]]:
    return [_device(d) for d in _plant(svc).devices]


@router.get("/devices/{device_id}", summary="One device")
def get_device(_key: Viewer, svc: Svc, device_id: str = Path(pattern=ID_PATTERN)) -> dict[str, Any]:
    try:
        return _device(_plant(svc).device(device_id))
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id!r}") from None


def _device(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "kind": d.kind,
        "carrier": d.carrier,
        "role": d.role,
        "parent": d.parent,
        "area": d.area,
        "rated_kw": d.rated_kw,
        "protocol": d.source.protocol if d.source else None,
    }
