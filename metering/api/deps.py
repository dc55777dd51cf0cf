"""Authentication and authorisation: API keys with roles, as typed dependency aliases for route signatures.

A key comes as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Missing or unknown keys
get 401, a role too low for the route gets 403. Roles are ranked: each includes the ones below.
The `auditor` role is outside the ranking: it may read every route (GET), whatever its
minimum role, and change nothing (any other method gets 403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from metering.alerts.service import AlertService
from metering.api.last_seen import LastSeen
from metering.dr.store import EventStore
from metering.state.store import RANKED, Principal, Role, Store
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.plant import Plant

_bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


@dataclass
class Services:
    """Everything a route may need, built once by the app factory (the composition root)."""

    store: Store
    influx: InfluxTarget
    plant: Plant | None
    dr_events: EventStore  # the demand-response engine's event store, shared with its CLI and MQTT intake
    data_dir: Path  # user factor and tariff files live under it
    plant_dir: Path | None = None  # relative factor files in the plant file are against it
    alerts: AlertService | None = None
    # Newest reading per device, fed by the running alert engine; None without one (then InfluxDB is asked).
    last_seen: LastSeen | None = None
    # What "now" is for live figures ("today" starts at the site's local midnight); tests set a fixed instant.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def get_services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


Svc = Annotated[Services, Depends(get_services)]


def current_key(
    svc: Svc,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal:
    token = bearer.credentials if bearer is not None else header
    principal = svc.store.authenticate(token) if token else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or unknown API key (send 'Authorization: Bearer <key>' or 'X-API-Key: <key>')",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require_role(minimum: Role):  # type: ignore[no-untyped-def]  # FastAPI reads the inner signature
    rank = RANKED.index(minimum)

    def check(request: Request, key: Annotated[Principal, Depends(current_key)]) -> Principal:
        if key.role == "auditor":
            if request.method in ("GET", "HEAD"):
                return key
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs role {minimum!r}; key {key.name!r} is 'auditor' (reads only, changes nothing)",
            )
        if RANKED.index(key.role) < rank:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs role {minimum!r}; key {key.name!r} is {key.role!r}"
            )
        return key

    return check


ApiKey = Principal
Viewer = Annotated[ApiKey, Depends(require_role("viewer"))]
Operator = Annotated[ApiKey, Depends(require_role("operator"))]
EnergyManager = Annotated[ApiKey, Depends(require_role("energy_manager"))]
Admin = Annotated[ApiKey, Depends(require_role("admin"))]
