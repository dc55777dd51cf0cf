"""One site CO2 everywhere: control room, API live/emissions/report (JSON, CSV, XLSX) and dashboards agree.

Issue 14, "Done when": the same period and method give the same figure on every surface. The
data are the `small` simulator's history through the real producers into a real InfluxDB
(tests/dashboards/simulated.py); the period is a fixed past morning, so no wall clock matters:
the API's "now" is set through `Services.clock`. The reference is the metering engine's own
rows, summed here with pandas (main meters; scope 1 + one scope 2 method).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import uvicorn
from fastapi.testclient import TestClient

from dashboards.provision import dashboard_docs
from dashboards.validate import queries
from dashboards.verify import Verifier
from harness.browser import CHROMIUM_ARGS, ensure_chromium
from harness.influxdb import InfluxDB
from harness.process import free_port, port_open, wait_until
from metering.api.app import create_app
from metering.api.settings import ApiSettings
from metering.dr.store import EventStore
from metering.state.store import Store
from plantcarbon_core.influx import InfluxTarget
from tests.dashboards.simulated import Simulated, fill_from_simulator

pytestmark = pytest.mark.integration

SH = ZoneInfo("Asia/Shanghai")
# 00:00–06:00 local on Monday 2026-03-02: the whole of that "today" and of the month's data.
END = datetime(2026, 3, 2, 6, tzinfo=SH)
START = datetime(2026, 3, 2, 0, tzinfo=SH)
METHODS = ("location", "market")
CSV_TOTAL = {"location": "Scope 1+2, location-based CO2 (kg)", "market": "Scope 1+2, market-based CO2 (kg)"}
PANELS = {"location": "Scope 1 + 2, location-based", "market": "Scope 1 + 2, market-based"}


@dataclass
class Surfaces:
    target: InfluxTarget
    sim: Simulated
    client: TestClient
    key: str
    app: object


@pytest.fixture(scope="module")
def surfaces(influxdb: InfluxDB, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Surfaces]:
    target = influxdb.fresh_target()
    sim = fill_from_simulator(target, END.astimezone(UTC), hours=6)
    tmp = tmp_path_factory.mktemp("consistency")
    store = Store(f"sqlite:///{tmp / 'state.sqlite'}")
    key = store.create_key("viewer-key", "viewer")
    settings = ApiSettings(env="development", data_dir=tmp / "data")
    app = create_app(
        settings,
        store=store,
        plant=sim.plant,
        influx=target,
        dr_store=EventStore(tmp / "dr.sqlite"),
        start_alerts=False,
    )
    app.state.services.clock = lambda: END.astimezone(UTC)
    with TestClient(app) as client:
        yield Surfaces(target, sim, client, key, app)
    store.close()


def reference(sim: Simulated, method: str) -> float:
    """Scope 1 + scope 2 by `method` of the main meters, from the metering engine's rows."""
    e = sim.metering.emissions
    other = "market" if method == "location" else "location"
    rows = e[(e["role"].astype(str) == "main") & (e["method"].astype(str) != other)]
    return float(rows["co2_kg"].sum())


def api_figures(s: Surfaces, method: str) -> dict[str, float]:
    h = {"Authorization": f"Bearer {s.key}"}
    total = f"total_{method}"
    live = s.client.get("/api/v1/live", headers=h).json()["today"]["co2_kg"][total]
    span = {"start": START.isoformat(), "end": END.isoformat(), "granularity": "1d"}
    (day,) = s.client.get("/api/v1/emissions", params=span, headers=h).json()["rows"]
    report = s.client.get("/api/v1/reports/carbon", params={"period": "2026-03"}, headers=h)
    table = list(
        csv.reader(
            io.StringIO(
                s.client.get(
                    "/api/v1/reports/carbon", params={"period": "2026-03", "format": "csv"}, headers=h
                ).content.decode("utf-8-sig")
            )
        )
    )
    xlsx = s.client.get("/api/v1/reports/carbon", params={"period": "2026-03", "format": "xlsx"}, headers=h)
    ws = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert ws is not None
    sheet = list(ws.iter_rows(values_only=True))
    assert table[-1][0] == "Total (main meters)" and sheet[-1][0] == "Total (main meters)"
    return {
        "api live": live,
        "api emissions": day["co2_kg"][total],
        "report json": report.json()["totals"]["co2_kg"][total],
        "report csv": float(table[-1][table[0].index(CSV_TOTAL[method])]),
        "report xlsx": float(sheet[-1][sheet[0].index(CSV_TOTAL[method])]),  # type: ignore[arg-type]
    }


def dashboard_figures(s: Surfaces, method: str) -> dict[str, float]:
    """The carbon dashboard's total for `method` (and the overview's CO2 today, location-based), in kg."""
    plant = s.sim.plant
    v = Verifier(s.target, END.astimezone(UTC), plant.site.timezone)
    out: dict[str, float] = {}
    wanted = {"carbon": PANELS[method]} | (
        {"overview": "CO2 today, scope 1 + 2 location-based"} if method == "location" else {}
    )
    for doc in dashboard_docs(plant):
        for board, title in wanted.items():
            if doc["uid"] != f"pc-{plant.site.id}-{board}":
                continue
            variables, _ = v.variables(doc)
            (q,) = [q for q in queries(doc) if q.panel and q.panel["title"] == title]
            check = v.query(doc, q, variables)
            assert check.problem is None and check.frame is not None, check
            out[f"dashboard {board}"] = float(check.frame.iloc[0, 1]) * 1000  # the panels show tonnes
    assert len(out) == len(wanted), f"panels not found: {wanted}"
    return out


def test_site_co2_is_the_same_on_every_surface_for_each_method(surfaces: Surfaces) -> None:
    sim = surfaces.sim
    want = {m: reference(sim, m) for m in METHODS}
    # Both methods present and different: a surface that mixed them up could not pass.
    assert want["location"] > 0 and want["market"] > 0 and abs(want["location"] - want["market"]) > 1.0
    # Steam from the small plant's own boiler is an internal transfer: no rows of its own.
    assert not sim.metering.emissions["device"].astype(str).isin(["steam-1", "steam-2"]).any()
    for method in METHODS:
        got = api_figures(surfaces, method) | dashboard_figures(surfaces, method)
        wrong = {k: v for k, v in got.items() if v != pytest.approx(want[method], rel=1e-9)}
        assert wrong == {}, f"{method}: expected {want[method]:.3f} kg, got {wrong}"


def test_control_room_shows_the_same_site_co2(surfaces: Surfaces) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = ensure_chromium()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(surfaces.app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 15, "metering API")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(locale="en-US")
                page.goto(f"http://127.0.0.1:{port}/")
                page.fill("#key", surfaces.key)
                page.click("#key-form button")
                # The page shows each boundary on its own tile: scope 1, scope 2
                # location-based, scope 2 market-based — never a sum of the two methods.
                expect(page.locator("#co2-location")).not_to_have_text("–", timeout=10_000)
                tile = {
                    k: float(page.locator(f"#co2-{k}").inner_text().replace(",", ""))
                    for k in ("scope1", "location", "market")
                }
                shown = {m: tile["scope1"] + tile[m] for m in METHODS}
            finally:
                browser.close()
    finally:
        server.should_exit = True
        t.join(10)
    for method in METHODS:
        # The page shows one decimal place per tile, and two tiles make a total.
        assert shown[method] == pytest.approx(reference(surfaces.sim, method), abs=0.11), method
