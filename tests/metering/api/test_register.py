"""The register through the app: seeded from plant-a at start, edited by an energy manager (audited), the plan exported."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.metering.api.conftest import Api

pytestmark = pytest.mark.integration


def test_register_read_edit_plan_and_check(api: Api) -> None:
    em, viewer = api.as_("energy_manager"), api.as_("viewer")
    doc = api.client.get("/api/v1/register", params={"as_of": "2026-03-10"}, headers=viewer).json()
    ids = [i["id"] for i in doc["instruments"]]
    assert set(ids) == {d.id for d in api.plant.devices if d.source is not None}  # every metered device
    tr = next(i for i in doc["instruments"] if i["id"] == "tr-01")
    assert tr["model"] and tr["calibration_state"] == "unknown" and "serial" in tr["missing"]
    assert tr["gb17167"]["verdict"] in ("meets", "below")  # a main meter is judged against table 3

    # An edit: the fields sent replace the stored ones; the audit row says who and what, before and after.
    body = {"serial": "SN-42", "last_calibration": "2025-03-01", "calibration_interval_months": 12, "owner": "EM"}
    r = api.client.put("/api/v1/register/tr-01", json=body, headers=em)
    assert r.status_code == 200, r.text
    got = api.client.get("/api/v1/register/tr-01", params={"as_of": "2026-03-10"}, headers=viewer).json()
    assert (got["serial"], got["due_date"], got["calibration_state"], got["version"]) == (
        "SN-42",
        "2026-03-01",
        "lapsed",
        2,
    )
    audit = api.client.get("/api/v1/audit", headers=em).json()
    row = next(a for a in audit if a["entity"] == "register" and a["action"] == "update")
    assert row["actor"] == "energy-manager-key" and row["entity_id"] == "plant-a/tr-01"
    assert row["before"]["serial"] == "" and row["after"]["serial"] == "SN-42"

    # Refused edits name the field and change nothing.
    bad = api.client.put("/api/v1/register/tr-01", json={"accuracy_class": "gold"}, headers=em)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "accuracy_class"
    bad = api.client.put("/api/v1/register/tr-01", json={"calibration_due": "2024-01-01"}, headers=em)
    assert bad.status_code == 422 and "before last_calibration" in bad.text
    assert api.client.put("/api/v1/register/nope", json={}, headers=em).status_code == 404
    assert api.client.get("/api/v1/register/tr-01", headers=viewer).json()["version"] == 2

    # The plan: JSON, CSV and XLSX carry the same rows.
    plan = api.client.get("/api/v1/register/plan", headers=viewer).json()["rows"]
    elec = next(p for p in plan if p["parameter"] == "purchased.electricity")
    assert elec["sources"] == ["tr-01"] and elec["owner"] == "EM"
    text = api.client.get("/api/v1/register/plan", params={"format": "csv"}, headers=viewer).content.decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(text)))) == len(plan)
    x = api.client.get("/api/v1/register/plan", params={"format": "xlsx"}, headers=viewer)
    ws = openpyxl.load_workbook(io.BytesIO(x.content)).active
    assert ws is not None and ws.max_row == len(plan) + 2

    # The check fires the lapsed calibration into the alert store (the engine's notifier test: tests/metering/alerts).
    done = api.client.post("/api/v1/register/check", params={"as_of": "2026-03-10"}, headers=em).json()
    assert "reg-lapsed-tr-01" in done["fired"]
    alerts = api.client.get("/api/v1/alerts", params={"state": "open"}, headers=viewer).json()
    assert any(a["rule"] == "reg-lapsed-tr-01" and a["severity"] == "critical" for a in alerts)
