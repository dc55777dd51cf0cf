"""API keys (admin only): create (the key is shown once), list (never the key), revoke. Audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from metering.api.deps import Admin, Svc
from metering.state.store import Conflict, NotFound, Role
from plantcarbon_core.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=ID_PATTERN)
    role: Role


@router.get("", summary="List keys (names, roles, prefixes; never the keys)")
def list_keys(_key: Admin, svc: Svc) -> list[dict[str, Any]]:
    return svc.store.list_keys()


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a key; the response holds it, once")
def create_key(body: KeyIn, key: Admin, svc: Svc) -> dict[str, Any]:
    try:
        token = svc.store.create_key(body.name, body.role, actor=key.name)
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return {"name": body.name, "role": body.role, "key": token}


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a key (never the last admin key)")
def revoke_key(key: Admin, svc: Svc, name: Annotated[str, Path(pattern=ID_PATTERN)]) -> Response:
    try:
        svc.store.revoke_key(name, actor=key.name)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
