"""The app factory: wires the store, InfluxDB, the plant and the alert engine into one FastAPI app."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from metering.alerts.notify import webhook_name, webhook_sink
from metering.alerts.service import AlertService
from metering.api.deps import Services
from metering.api.last_seen import LastSeen
from metering.api.routers import (
    alerts,
    audit,
    compliance,
    controlroom,
    demand,
    direct,
    dr,
    energy,
    evidence,
    factors,
    keys,
    live,
    reports,
    thresholds,
)
from metering.api.routers import plant as plant_routes
from metering.api.settings import ApiSettings
from metering.dr.store import EventStore
from metering.state.store import Store
from plantcarbon_core.influx import InfluxQLError, InfluxTarget
from plantcarbon_core.mqtt import BrokerConfig
from plantcarbon_core.plant import Plant, load_plant

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
# The audit log's actor for the admin key registered at start from PLANTCARBON_BOOTSTRAP_ADMIN_KEY.
BOOTSTRAP_ACTOR = "bootstrap"
# ECharts, npm-installed by the project's set-up (harness/web.py); served here, never from a CDN.
# PLANTCARBON_CHARTS_DIR points elsewhere when the package is installed without its source tree (the image).
VENDOR = Path(
    os.environ.get("PLANTCARBON_CHARTS_DIR")
    or Path(__file__).resolve().parent / "web" / "node_modules" / "echarts" / "dist"
)


def create_app(
    settings: ApiSettings | None = None,
    *,
    store: Store | None = None,
    plant: Plant | None = None,
    influx: InfluxTarget | None = None,
    alerts_service: AlertService | None = None,
    dr_store: EventStore | None = None,
    start_alerts: bool | None = None,
) -> FastAPI:
    """Build the app. Arguments override what the settings would build (tests pass real services)."""
    s = settings or ApiSettings()
    store = store or Store(s.resolved_state_url())
    if plant is None and s.plant_file is not None:
        plant = load_plant(s.plant_file)
    influx = influx or InfluxTarget.from_settings(s)
    if s.bootstrap_admin_key is not None:
        bootstrap_admin(store, s.bootstrap_admin_key.get_secret_value())
    run_alerts = s.alerts_enabled if start_alerts is None else start_alerts
    if alerts_service is None and run_alerts:
        alerts_service = AlertService(
            store,
            plant,
            BrokerConfig.from_settings(s),
            s.mqtt_prefix,
            extra_sinks=[(webhook_name(h), webhook_sink(h)) for h in s.alert_webhooks],
            influx=influx,
            plant_dir=s.plant_file.parent if s.plant_file else None,
            data_dir=s.data_dir,
        )
    # The control room's device health reads the newest reading per device from the alert engine's
    # feed instead of InfluxDB on every call (metering/api/last_seen.py); only while the engine runs.
    last_seen = None
    if alerts_service is not None and run_alerts:
        last_seen = LastSeen()
        alerts_service.observers.append(last_seen.note)
    services = Services(
        store=store,
        influx=influx,
        plant=plant,
        dr_events=dr_store or EventStore(s.data_dir / "dr.sqlite"),
        data_dir=s.data_dir,
        plant_dir=s.plant_file.parent if s.plant_file else None,
        alerts=alerts_service,
        last_seen=last_seen,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if alerts_service is not None and run_alerts:
            alerts_service.start()
            # Running as a service: read the last-seen seed before the first page asks.
            # (An app without its engine, as tests build it, gets its data after start: nothing to warm.)
            controlroom.warm(services)
        try:
            yield
        finally:
            if alerts_service is not None and run_alerts:
                alerts_service.stop()

    app = FastAPI(
        title="plantcarbon metering API",
        version="1",
        description=(
            "Energy, emissions, demand, demand response, thresholds and alerts of a plant. "
            "Authenticate with an API key: `Authorization: Bearer <key>` or `X-API-Key: <key>`. "
            "Roles: viewer < operator (acknowledge alerts) < energy_manager (thresholds, DR events) "
            "< admin (keys); auditor reads every route, the audit log too, and changes nothing."
        ),
        lifespan=lifespan,
    )
    app.state.services = services
    for r in (
        plant_routes,
        energy,
        factors,
        demand,
        dr,
        thresholds,
        alerts,
        reports,
        keys,
        audit,
        live,
        direct,
        controlroom,
        compliance,
        evidence,
    ):
        app.include_router(r.router)

    @app.exception_handler(InfluxQLError)
    async def _influx_down(_req: Request, exc: InfluxQLError) -> JSONResponse:
        log.warning("InfluxDB query failed: %s", exc)
        return JSONResponse({"detail": "the time-series database is unavailable; try again"}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        # Echo where and why, never the rejected input itself (it may hold a secret).
        errors = [
            {"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.get(
        "/healthz",
        tags=["service"],
        summary="Liveness: 200 while every worker thread runs and makes progress, else 503",
        responses={503: {"description": "a worker thread of the alert engine has ended or is stuck"}},
    )
    def healthz() -> JSONResponse:
        a = services.alerts
        engine = None
        ok = True
        if a is not None:
            live = a.liveness.report()
            ok = bool(live["ok"])
            engine = {
                "mqtt_connected": a.client.is_connected(),
                "readings": a.readings,
                "bad_payloads": dict(a.bad_payloads),
                "workers": live["workers"],
            }
        return JSONResponse({"ok": ok, "alerts_engine": engine}, status_code=200 if ok else 503)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/ui/index.html")

    if VENDOR.is_dir():
        app.mount("/ui/vendor", StaticFiles(directory=VENDOR), name="vendor")
    else:  # the page still shows its figures; its charts say how to install the library
        log.warning("charts library missing (%s): run `make setup` or `plantcarbon services install`", VENDOR)
    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")
    return app


def bootstrap_admin(store: Store, token: str) -> str | None:
    """Register the configured admin key when no active admin key exists (first start); audited.

    Returns the new key's name, or None when nothing was registered. Never stops the start:
    a revoked `bootstrap-admin` keeps its name (the new key becomes `bootstrap-admin-2`, …),
    and a configured key that was itself revoked is not brought back (logged instead).
    """
    if store.active_admins():
        return None
    if store.has_key_hash(token):
        log.error(
            "PLANTCARBON_BOOTSTRAP_ADMIN_KEY was revoked and no admin key is active: set a new bootstrap key "
            "or create one with `plantcarbon metering keys-create NAME --role admin`"
        )
        return None
    taken = {k["name"] for k in store.list_keys()}
    name = next(n for n in ("bootstrap-admin", *(f"bootstrap-admin-{i}" for i in range(2, 10_000))) if n not in taken)
    store.add_key_with_token(name, "admin", token, actor=BOOTSTRAP_ACTOR)
    return name
