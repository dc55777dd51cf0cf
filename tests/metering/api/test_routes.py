"""Every route of the metering API against a real InfluxDB seeded per the design schema."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta

import openpyxl
import pytest

from plantcarbon_core.influx import line, write_lines
from tests.metering.api.conftest import DAY0, Api

pytestmark = pytest.mark.integration

RANGE = {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(hours=2)).isoformat()}
EM = "energy_manager"


def test_plant_and_devices(api: Api) -> None:
    c = api.client
    plant = c.get("/api/v1/plant", headers=api.as_("viewer")).json()
    assert plant["site"]["id"] == "plant-a" and plant["contract"]["demand_limit_kw"] == 4000
    devices = c.get("/api/v1/plant/devices", headers=api.as_("viewer")).json()
    assert [d["id"] for d in devices] == api.plant.device_ids
    kiln = c.get("/api/v1/plant/devices/kiln-1", headers=api.as_("viewer")).json()
    assert kiln == {**kiln, "role": "sub", "parent": "tr-01", "protocol": "modbus-rtu"}
    r = c.get("/api/v1/plant/devices/nope", headers=api.as_("viewer"))
    assert r.status_code == 404 and r.json()["detail"] == "no device 'nope'"


def test_energy_by_site_counts_main_meters_only(api: Api) -> None:
    r = api.client.get(
        "/api/v1/energy", params={**RANGE, "granularity": "1h", "carrier": "electricity"}, headers=api.as_("viewer")
    )
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    # tr-01 is the only main electricity meter: 4 intervals × 1000 kWh per hour; kiln-1 (sub) is not added.
    assert [row["amount"] for row in rows] == [4000.0, 4000.0]
    assert [row["cost"] for row in rows] == [1200.0, 1200.0]
    assert rows[0]["time"].startswith("2026-03-02T00:00:00+08:00") or rows[0]["time"] == "2026-03-01T16:00:00+00:00"
    assert rows[0]["tce_kg"] == pytest.approx(4000 * 0.1229)  # GB/T 2589-2020: 0.1229 kgce/kWh


def test_energy_by_device_and_area(api: Api) -> None:
    by_dev = api.client.get(
        "/api/v1/energy", params={**RANGE, "granularity": "", "group_by": "device"}, headers=api.as_("viewer")
    )
    assert by_dev.status_code == 422  # an empty granularity is not one of 15m, 1h, 1d
    rows = api.client.get(
        "/api/v1/energy", params={**RANGE, "granularity": "1d", "group_by": "device"}, headers=api.as_("viewer")
    ).json()["rows"]
    got = {r["device"]: r["amount"] for r in rows}
    assert got == {"tr-01": 8000.0, "kiln-1": 3200.0, "boiler-1": 400.0}
    areas = api.client.get(
        "/api/v1/energy", params={**RANGE, "granularity": "15m", "group_by": "area"}, headers=api.as_("viewer")
    ).json()["rows"]
    assert len([r for r in areas if r["area"] == "kiln"]) == 8


def test_emissions_site_total_and_by_device(api: Api) -> None:
    site = api.client.get("/api/v1/emissions", params={**RANGE, "granularity": "1d"}, headers=api.as_("viewer")).json()
    # Main meters only: tr-01 8000 kWh × 0.5 + boiler-1 400 Nm3 × 2.0 = 4800 kg (the seeded factors).
    (co2,) = [r["co2_kg"] for r in site["rows"]]
    assert co2 == {
        "scope1": 800.0,
        "scope2_location": 4000.0,
        "scope2_market": 0.0,
        "total_location": 4800.0,
        "total_market": 800.0,
    }
    dev = api.client.get(
        "/api/v1/emissions",
        params={**RANGE, "granularity": "1d", "group_by": "device", "scope": "1"},
        headers=api.as_("viewer"),
    ).json()
    assert [(r["device"], r["co2_kg"]["scope1"]) for r in dev["rows"]] == [("boiler-1", 800.0)]


def _market_rows(api: Api) -> None:
    """tr-01's market-based scope 2 rows at 0.6 kg/kWh, as metering writes them beside the location rows."""
    lines = [
        line(
            "emissions",
            {"site": "plant-a", "area": "substation", "device": "tr-01", "carrier": "electricity", "role": "main"}
            | {"scope": "2", "method": "market"},
            {"co2_kg": 600.0, "co2e_kg": 600.0, "factor": "test-market@1"},
            int((DAY0 + timedelta(minutes=15 * i)).timestamp() * 1000),
        )
        for i in range(8)
    ]
    write_lines(api.influx, api.influx.metering_bucket, lines)


def test_site_co2_never_adds_location_and_market_based_scope2(api: Api) -> None:
    """Issue 14 defect 2: live, emissions and the carbon report summed every row (4000 + 4800 for tr-01)."""
    _market_rows(api)
    want = {
        "scope1": 800.0,
        "scope2_location": 4000.0,
        "scope2_market": 4800.0,
        "total_location": 4800.0,
        "total_market": 5600.0,
    }
    h = api.as_("viewer")
    site = api.client.get("/api/v1/emissions", params={**RANGE, "granularity": "1d"}, headers=h).json()
    assert [r["co2_kg"] for r in site["rows"]] == [want]
    api.app.state.services.clock = lambda: (DAY0 + timedelta(hours=2)).astimezone(UTC)
    assert api.client.get("/api/v1/live", headers=h).json()["today"]["co2_kg"] == want
    rep = api.client.get("/api/v1/reports/carbon", params={"period": "2026-03"}, headers=h).json()
    assert rep["totals"]["co2_kg"] == want
    tr = next(r for r in rep["rows"] if r["device"] == "tr-01")
    assert (tr["co2_scope2_location_kg"], tr["co2_scope2_market_kg"], tr["co2_total_market_kg"]) == (4000, 4800, 4800)


def test_bad_time_ranges_are_422_not_500(api: Api) -> None:
    h = api.as_("viewer")
    for params in (
        {"start": "yesterday", "end": RANGE["end"]},
        {"start": "2026-03-02T00:00:00", "end": "2026-03-02T01:00:00"},  # no offset
        {"start": RANGE["end"], "end": RANGE["start"]},
        {"start": "1900-01-01T00:00:00Z", "end": RANGE["end"]},
        {"end": RANGE["end"]},
    ):
        r = api.client.get("/api/v1/energy", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"][0]["loc"][0] == "query"


def test_demand(api: Api) -> None:
    d = api.client.get("/api/v1/demand", params=RANGE, headers=api.as_("viewer")).json()
    assert len(d["rows"]) == 8 and d["peak_kw"] == 4150.0 and d["limit_kw"] == 4000


def test_dr_events_create_list_report(api: Api) -> None:
    c = api.client
    ev = {
        "id": "dr-0302",
        "site": "plant-a",
        "start": RANGE["start"],
        "end": RANGE["end"],
        "requested_reduction_kw": 500,
        "meters": ["tr-01"],
        "note": "grid request 电网邀约",
    }
    r = c.post("/api/v1/dr/events", json=ev, headers=api.as_(EM))
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "api" and r.json()["status"] == "scheduled"
    assert c.post("/api/v1/dr/events", json=ev, headers=api.as_(EM)).status_code == 409
    bad = c.post("/api/v1/dr/events", json={**ev, "id": "x2", "end": ev["start"]}, headers=api.as_(EM))
    assert bad.status_code == 422 and "must be after start" in bad.text
    both = c.post("/api/v1/dr/events", json={**ev, "id": "x3", "target_kw": 3000}, headers=api.as_(EM))
    assert both.status_code == 422 and "give exactly one of requested_reduction_kw and target_kw" in both.text
    meters = c.post("/api/v1/dr/events", json={**ev, "id": "x4", "meters": ["tr-09"]}, headers=api.as_(EM))
    assert meters.status_code == 422 and "unknown devices ['tr-09']" in meters.text
    assert [e["id"] for e in c.get("/api/v1/dr/events", headers=api.as_("viewer")).json()] == ["dr-0302"]
    # The DR engine's own store holds it: `plantcarbon dr` and the MQTT intake see the same events.
    assert api.dr.get("dr-0302").requested_reduction_kw == 500
    assert c.get("/api/v1/dr/events/dr-0302", headers=api.as_("viewer")).json()["requested_reduction_kw"] == 500
    assert c.get("/api/v1/dr/events/none", headers=api.as_("viewer")).status_code == 404
    rep = c.get("/api/v1/dr/events/dr-0302/report", headers=api.as_("viewer")).json()
    # Seeded: baseline 4000, actual 3400 → 600 kW reduction against a 500 kW request = 120 % (≥ 80 % minimum).
    assert rep["intervals"] == 8 and rep["mean_reduction_kw"] == 600.0 and rep["achieved_pct"] == 120.0 and rep["met"]
    assert api.store.list_audit("dr_event")[0]["actor"] == "energy-manager-key"


RULE = {
    "id": "tr-01-power",
    "site": "plant-a",
    "device": "tr-01",
    "quantity": "p_kw",
    "condition": "above",
    "threshold": 4000,
    "clear": 3800,
    "severity": "critical",
}


def test_thresholds_crud_is_audited(api: Api) -> None:
    c, h = api.client, api.as_(EM)
    r = c.post("/api/v1/thresholds", json=RULE, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["updated_by"] == "energy-manager-key"
    assert c.post("/api/v1/thresholds", json=RULE, headers=h).status_code == 409
    assert [t["id"] for t in c.get("/api/v1/thresholds", headers=api.as_("viewer")).json()] == ["tr-01-power"]
    r = c.put("/api/v1/thresholds/tr-01-power", json={**RULE, "threshold": 4200}, headers=h)
    assert r.status_code == 200 and r.json()["threshold"] == 4200 and r.json()["version"] == 2
    assert c.get("/api/v1/thresholds/tr-01-power", headers=api.as_("viewer")).json()["threshold"] == 4200
    mismatch = c.put("/api/v1/thresholds/other", json=RULE, headers=h)
    assert mismatch.status_code == 422 and "differs from the path" in mismatch.text
    assert c.put("/api/v1/thresholds/nope", json={**RULE, "id": "nope"}, headers=h).status_code == 404
    assert c.delete("/api/v1/thresholds/tr-01-power", headers=h).status_code == 204
    assert c.get("/api/v1/thresholds/tr-01-power", headers=api.as_("viewer")).status_code == 404
    assert c.delete("/api/v1/thresholds/tr-01-power", headers=h).status_code == 404
    audit = c.get("/api/v1/audit", params={"entity": "threshold"}, headers=h).json()
    assert [(a["action"], a["actor"]) for a in audit] == [("delete", "energy-manager-key")] + [
        (x, "energy-manager-key") for x in ("update", "create")
    ]
    assert audit[1]["before"]["threshold"] == 4000 and audit[1]["after"]["threshold"] == 4200


def test_threshold_validation_names_the_field(api: Api) -> None:
    r = api.client.post("/api/v1/thresholds", json={**RULE, "clear": 4500}, headers=api.as_(EM))
    assert r.status_code == 422
    assert "clear (4500.0) must not be above threshold (4000.0)" in r.json()["detail"][0]["msg"]
    r = api.client.post("/api/v1/thresholds", json={**RULE, "threshold": "lots"}, headers=api.as_(EM))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "threshold"]
    r = api.client.post(
        "/api/v1/thresholds", content=b"{not json", headers={**api.as_(EM), "Content-Type": "application/json"}
    )
    assert r.status_code == 422


def test_alerts_list_get_acknowledge(api: Api) -> None:
    from datetime import UTC, datetime

    a = api.store.fire_alert("tr-01-power", "plant-a", "critical", 4210.0, 4000.0, "too high", datetime.now(UTC))
    c = api.client
    assert [x["id"] for x in c.get("/api/v1/alerts", params={"state": "open"}, headers=api.as_("viewer")).json()] == [
        a["id"]
    ]
    assert c.get(f"/api/v1/alerts/{a['id']}", headers=api.as_("viewer")).json()["state"] == "firing"
    r = c.post(f"/api/v1/alerts/{a['id']}/acknowledge", headers=api.as_("operator"))
    assert (
        r.status_code == 200 and r.json()["state"] == "acknowledged" and r.json()["acknowledged_by"] == "operator-key"
    )
    assert c.get("/api/v1/alerts", params={"state": "firing"}, headers=api.as_("viewer")).json() == []
    api.store.resolve_alert(a["id"], datetime.now(UTC), 3000.0)
    assert c.post(f"/api/v1/alerts/{a['id']}/acknowledge", headers=api.as_("operator")).status_code == 409
    assert c.post("/api/v1/alerts/999/acknowledge", headers=api.as_("operator")).status_code == 404
    assert c.get("/api/v1/alerts", params={"state": "bogus"}, headers=api.as_("viewer")).status_code == 422


def test_carbon_report_json_csv_xlsx_in_both_languages(api: Api) -> None:
    c, h = api.client, api.as_("viewer")
    rep = c.get("/api/v1/reports/carbon", params={"period": "2026-03"}, headers=h).json()
    assert rep["start"] == "2026-02-28T16:00:00+00:00" and rep["end"] == "2026-03-31T16:00:00+00:00"
    rows = {r["device"]: r for r in rep["rows"]}
    assert rows["tr-01"]["amount"] == 8000.0 and rows["boiler-1"]["co2_scope1_kg"] == 800.0
    assert rows["kiln-1"]["role"] == "sub"
    # Totals from main meters: tce 8000 × 0.1229 + 400 × 1.2143 (GB/T 2589-2020), cost 2400 + 1400, CO2 4000 + 800.
    assert rep["totals"]["tce_kg"] == pytest.approx(1468.92)
    assert rep["totals"]["cost"] == 3800.0 and rep["totals"]["co2_kg"]["total_location"] == 4800.0
    year = c.get("/api/v1/reports/carbon", params={"period": "2026"}, headers=h).json()
    assert year["totals"] == rep["totals"]
    assert c.get("/api/v1/reports/carbon", params={"period": "2025-12"}, headers=h).json()["rows"] == []

    zh = c.get("/api/v1/reports/carbon", params={"period": "2026-03", "format": "csv", "lang": "zh"}, headers=h)
    assert zh.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(zh.content.decode("utf-8-sig"))))
    col = "范围一+二 基于位置 二氧化碳 (kg)"
    assert table[0][:3] == ["设备", "区域", "能源品种"] and col in table[0]
    assert table[-1][0] == "合计 (主表)" and float(table[-1][table[0].index(col)]) == 4800.0

    x = c.get("/api/v1/reports/carbon", params={"period": "2026-03", "format": "xlsx"}, headers=h)
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    ws = wb.active
    assert ws is not None and ws.title == "Carbon report"
    values = list(ws.iter_rows(values_only=True))
    assert values[0][0] == "Device" and values[-1][0] == "Total (main meters)"
    assert values[-1][values[0].index("Scope 1+2, location-based CO2 (kg)")] == 4800.0
    assert values[-1][values[0].index("Scope 2, market-based CO2 (kg)")] == 0.0
    for bad in ("2026-13", "26", "1999", "2026-3"):
        assert c.get("/api/v1/reports/carbon", params={"period": bad}, headers=h).status_code == 422


def test_keys_create_list_revoke(api: Api) -> None:
    c, h = api.client, api.as_("admin")
    r = c.post("/api/v1/keys", json={"name": "shift-b", "role": "operator"}, headers=h)
    assert r.status_code == 201
    token = r.json()["key"]
    assert c.get("/api/v1/me", headers={"X-API-Key": token}).json() == {"name": "shift-b", "role": "operator"}
    listed = c.get("/api/v1/keys", headers=h).json()
    assert "shift-b" in [k["name"] for k in listed]
    assert token not in r.request.url.path and all(token not in str(k) for k in listed)
    assert c.post("/api/v1/keys", json={"name": "shift-b", "role": "operator"}, headers=h).status_code == 409
    assert c.post("/api/v1/keys", json={"name": "x", "role": "root"}, headers=h).status_code == 422
    assert c.delete("/api/v1/keys/shift-b", headers=h).status_code == 204
    assert c.get("/api/v1/me", headers={"X-API-Key": token}).status_code == 401
    assert c.delete("/api/v1/keys/none", headers=h).status_code == 404
    assert [a["action"] for a in api.store.list_audit("api_key")] == ["revoke", "create"]


def test_keys_are_stored_hashed(api: Api) -> None:
    import sqlite3

    path = api.store.url.removeprefix("sqlite:///")
    dump = "\n".join(sqlite3.connect(path).iterdump())
    for token in api.keys.values():
        assert token not in dump
        assert token[:10] in dump  # the prefix, to tell keys apart


def test_live_figures(api: Api) -> None:
    live = api.client.get("/api/v1/live", headers=api.as_("viewer")).json()
    assert live["power_kw"] == 3612.5  # tr-01 only: kiln-1 is a sub-meter
    assert live["devices_kw"] == {"tr-01": 3612.5, "kiln-1": 1500.0}
    assert live["demand"] == {"demand_kw": 3650.0, "forecast_kw": 3720.0, "limit_kw": 4000.0}
    assert live["alerts"] == [] and live["dr"]["active"] is None


def test_service_routes(api: Api) -> None:
    c = api.client
    assert c.get("/healthz").json()["ok"] is True
    spec = c.get("/openapi.json").json()
    assert "/api/v1/thresholds/{rule_id}" in spec["paths"] and "HTTPBearer" in spec["components"]["securitySchemes"]
    assert c.get("/", follow_redirects=False).headers["location"] == "/ui/index.html"
    page = c.get("/ui/index.html")
    assert page.status_code == 200 and "control.js" in page.text
    assert "集控室" in c.get("/ui/i18n.js").text


def test_influx_down_is_503_with_a_clear_message(api: Api) -> None:
    from dataclasses import replace

    api.app.state.services.influx = replace(api.influx, url="http://127.0.0.1:9")
    r = api.client.get("/api/v1/demand", params=RANGE, headers=api.as_("viewer"))
    assert r.status_code == 503 and "unavailable" in r.json()["detail"]


USER_FACTORS = {
    "set": "site-supplier",
    "defaults": {"carrier": "electricity", "unit": "tCO2/MWh", "gas": "CO2", "method": "market"},
    "factors": [
        {
            "id": "supplier-green-mix",
            "version": "2025",
            "kind": "grid-residual",
            "region": "cn-east",
            "value": 0.3,
            "valid_from": "2025-01-01",
            "source": {"document": "Supplier disclosure 2025", "table": "t1"},
        }
    ],
}


def test_factors_list_get_and_user_files_are_audited(api: Api) -> None:
    c = api.client
    shipped = c.get("/api/v1/factors", params={"region": "cn-national"}, headers=api.as_("viewer")).json()
    # MEE/NBS 2021 national grid average, 0.5568 tCO2/MWh (公告2024年第12号), shipped by the metering part.
    nat = c.get("/api/v1/factors/cn-grid-national@2021", headers=api.as_("viewer")).json()
    assert nat["value"] == 0.5568 and "公告2024年第12号" in nat["cite"]
    assert any(f["ref"] == "cn-grid-national@2021" for f in shipped)
    assert c.get("/api/v1/factors/nope@1", headers=api.as_("viewer")).status_code == 404

    r = c.put("/api/v1/factors/files/site-supplier", json=USER_FACTORS, headers=api.as_(EM))
    assert r.status_code == 200, r.text
    assert r.json()["factors"] == ["supplier-green-mix@2025"]
    assert (api.data_dir / "factors" / "site-supplier.yaml").exists()
    assert c.get("/api/v1/factors/supplier-green-mix", headers=api.as_("viewer")).json()["value"] == 0.3

    bad = {**USER_FACTORS, "factors": [{**USER_FACTORS["factors"][0], "value": -1}]}  # type: ignore[index]
    r = c.put("/api/v1/factors/files/site-supplier", json=bad, headers=api.as_(EM))
    assert r.status_code == 422
    assert "site-supplier.yaml: factors[0] (id=supplier-green-mix)" in r.json()["detail"][0]["msg"]
    assert "value must be > 0" in r.text

    assert c.delete("/api/v1/factors/files/site-supplier", headers=api.as_(EM)).status_code == 204
    assert c.delete("/api/v1/factors/files/site-supplier", headers=api.as_(EM)).status_code == 404
    audit = api.store.list_audit("factor")
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("delete", "energy-manager-key"),
        ("create", "energy-manager-key"),
    ]
    assert audit[1]["after"]["factors"][0]["value"] == 0.3


def test_tariffs_list_get_put_is_audited(api: Api) -> None:
    c = api.client
    listed = c.get("/api/v1/tariffs", headers=api.as_("viewer")).json()
    js = next(t for t in listed if t["id"] == "cn-js-large-industry")
    assert js["in_use"] is True  # examples/plant-a.yaml names it in contract.tariff
    full = c.get("/api/v1/tariffs/cn-js-large-industry", headers=api.as_("viewer")).json()
    assert full["versions"] and full["currency"] == "CNY"
    assert c.get("/api/v1/tariffs/nope", headers=api.as_("viewer")).status_code == 404

    mine = {**full, "id": "site-negotiated", "name": "Negotiated 协议电价"}
    r = c.put("/api/v1/tariffs/site-negotiated", json=mine, headers=api.as_(EM))
    assert r.status_code == 200, r.text
    assert c.get("/api/v1/tariffs/site-negotiated", headers=api.as_("viewer")).json()["name"] == "Negotiated 协议电价"
    mine_listed = [
        t for t in c.get("/api/v1/tariffs", headers=api.as_("viewer")).json() if t["id"] == "site-negotiated"
    ]
    assert mine_listed and mine_listed[0]["user_file"]
    r = c.put("/api/v1/tariffs/site-negotiated", json={**mine, "id": "other"}, headers=api.as_(EM))
    assert r.status_code == 422 and "must equal 'site-negotiated'" in r.text
    r = c.put("/api/v1/tariffs/site-negotiated", json={**mine, "versions": []}, headers=api.as_(EM))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "versions"]
    assert [a["action"] for a in api.store.list_audit("tariff")] == ["create"]
