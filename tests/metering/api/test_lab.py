"""Lab values and stock balances through the real app: upload, read back, refuse (nothing written), correct, review.

The month is the simulated kiln line's January (the filing-workflow fixture of
tests/metering/compliance/test_api.py: readings in a real InfluxDB 2.7, the lab book without
the clinker CaO of 5 and 6 January in `<data_dir>/carbon/lab.csv`).
"""

from __future__ import annotations

import io
import os

import openpyxl
import pytest

from tests.metering.compliance.test_api import BASE, MonthApi, month_api  # noqa: F401  (the fixture)
from tests.metering.direct.case import LAB_HEADER

pytestmark = pytest.mark.integration

LAB = "/api/v1/direct/lab"
STOCKS = "/api/v1/direct/stocks"
# The two samples the fixture's lab book lacks (the simulator's own values for those days).
MISSING = (
    "CL-20260105,1,clinker,cao,0.6612,1,2026-01-05,2026-01-05,GB/T 176,plant lab,,\n"
    "CL-20260106,1,clinker,cao,0.6587,1,2026-01-06,2026-01-06,GB/T 176,plant lab,qc-02,\n"
)


def _csv(body: str) -> bytes:
    return (LAB_HEADER + "\n" + body).encode()


def _cao(current: dict) -> dict:  # type: ignore[type-arg]
    items = current["review"]["items"]
    return next(i for i in items if (i["material"], i["parameter"]) == ("clinker", "cao"))


def test_lab_upload_read_back_refusals_and_a_correction_the_month_sees(month_api: MonthApi) -> None:  # noqa: F811
    c, a, lab = month_api.client, month_api, month_api.lab
    op = a.as_("operator")
    # (the fixture's book lacks the clinker CaO of 5 and 6 January: tests/metering/compliance/test_api.py)
    n0 = len(c.get(LAB, headers=a.as_("auditor")).json()["rows"])

    r = c.post(LAB, files={"file": ("lab-0105.csv", _csv(MISSING), "text/csv")}, headers=op)
    assert r.status_code == 200, r.text
    assert [x["sample_id"] for x in r.json()["added"]] == ["CL-20260105", "CL-20260106"]
    assert r.json()["added"][0]["entered_by"] == "operator-key"  # an empty author is the key that sent it
    rows = c.get(LAB, headers=a.as_("viewer")).json()["rows"]
    assert len(rows) == n0 + 2
    got = next(x for x in rows if x["sample_id"] == "CL-20260106")
    assert (got["value"], got["version"], got["versions"], got["entered_by"]) == (0.6587, 1, 1, "qc-02")
    again = c.post(LAB, files={"file": ("lab-0105.csv", _csv(MISSING), "text/csv")}, headers=op)
    assert again.json()["added"] == [] and again.json()["unchanged"] == 2  # the same file again changes nothing
    log = c.get("/api/v1/audit", params={"entity": "lab"}, headers=a.as_("auditor")).json()
    assert [(x["action"], x["actor"], x["entity_id"]) for x in log] == [("upload", "operator-key", "lab-0105.csv")]
    # the month review reads what the API wrote
    month = c.get(BASE, headers=a.as_("viewer")).json()["current"]
    assert _cao(month)["missing_days"] == [] and _cao(month)["status"] == "ok"
    before = month["figures"]  # (February's entry below leaves January's figures as they are)

    stored, files = lab.read_bytes(), sorted(os.listdir(lab.parent))
    bad = (
        "CL-X1,1,clinker,cao,0.91,1,2026-01-05,2026-01-05,GB/T 176,plant lab,qc-01,\n"
        "CL-X2,1,clinker,mgo,2.3,%,2026-01-05,2026-01-05,GB/T 176,plant lab,qc-01,\n"
        "SL-X3,1,slag,cao,0.4,1,2026-01-05,2026-01-05,GB/T 176,plant lab,qc-01,\n"
    )
    r = c.post(LAB, files={"file": ("bad.csv", _csv(bad), "text/csv")}, headers=op)
    assert r.status_code == 422
    msgs = [e["msg"] for e in r.json()["detail"]]
    assert any(m.startswith("bad.csv: row 2 (sample CL-X1@1): value: 0.91 outside the valid range") for m in msgs)
    assert any(m.startswith("bad.csv: row 3 (sample CL-X2@1): unit: '%'") for m in msgs)
    assert any(m.startswith("bad.csv: row 4 (sample SL-X3@1): material: unknown material 'slag'") for m in msgs)
    overlap = "CL-X4,1,clinker,cao,0.66,1,2026-01-09,2026-01-10,GB/T 176,plant lab,qc-01,\n"
    r = c.post(LAB, files={"file": ("late.csv", _csv(overlap), "text/csv")}, headers=op)
    assert r.status_code == 422 and "overlaps sample" in r.text and "of the stored lab book" in r.text
    changed = "CL-20260105,1,clinker,cao,0.6700,1,2026-01-05,2026-01-05,GB/T 176,plant lab,qc-01,\n"
    r = c.post(LAB, files={"file": ("again.csv", _csv(changed), "text/csv")}, headers=op)
    assert r.status_code == 422 and "a change is a correction" in r.text
    for name, data, code in (
        ("../lab.csv", _csv(MISSING), 422),
        ("..\\lab.csv", _csv(MISSING), 422),
        ("lab.exe", _csv(MISSING), 422),
        ("lab.xlsx", _csv(MISSING), 422),  # not a zip: not a workbook
        ("big.csv", _csv(MISSING * 20_000), 413),
    ):
        r = c.post(LAB, files={"file": (name, data, "text/csv")}, headers=op)
        assert r.status_code == code and r.json()["detail"][0]["loc"] == ["body", "file"], (name, r.text)
    assert lab.read_bytes() == stored and sorted(os.listdir(lab.parent)) == files  # nothing left behind

    # one value through the form's route, then a correction: version 2 with reason and who
    entry = {
        "sample_id": "CL-20260201",  # February's first day: January's figures stay as they are
        "material": "clinker",
        "parameter": "mgo",
        "value": 0.0231,
        "unit": "1",
        "period_start": "2026-02-01",
        "period_end": "2026-02-01",
        "standard": "GB/T 176",
        "lab": "plant lab",
    }
    r = c.post(f"{LAB}/entries", json={"entries": [{**entry, "standard": "GB/T\x00176"}]}, headers=op)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "entries", 0, "standard"]
    r = c.post(f"{LAB}/entries", json={"entries": [entry]}, headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["added"][0] == {**entry, "version": 1, "entered_by": "operator-key", "reason": ""}
    fix = {"parameter": "cao", "value": 0.6701, "reason": "re-analysed"}
    r = c.post(f"{LAB}/CL-20260110/corrections", json=fix, headers=op)
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["value"], r.json()["entered_by"]) == (2, 0.6701, "operator-key")
    hist = c.get(LAB, params={"history": "true"}, headers=a.as_("auditor")).json()["rows"]
    versions = [(x["version"], x["value"], x["reason"]) for x in hist if x["sample_id"] == "CL-20260110"]
    assert (1, 0.6519, "") in versions and (2, 0.6701, "re-analysed") in versions
    assert c.post(f"{LAB}/CL-99990101/corrections", json=fix, headers=op).status_code == 404
    after = c.get(BASE, headers=a.as_("viewer")).json()["current"]["figures"]
    assert after["direct_co2_t"] > before["direct_co2_t"]  # more CaO in clinker: more process CO2


def test_stock_balances_upload_xlsx_and_a_negative_balance_refused(month_api: MonthApi) -> None:  # noqa: F811
    c, a = month_api.client, month_api
    path = month_api.lab.parent / "stocks.csv"
    (coal,) = c.get(STOCKS, headers=a.as_("viewer")).json()["rows"]
    assert coal["month"] == "2026-01"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["material", "month", "opening_t", "receipts_t", "closing_t", "reference", "entered_by"])
    ws.append(["coal", "2026-02", 9000, 20000, 8500, "ST-2026-02-COAL", None])
    buf = io.BytesIO()
    wb.save(buf)
    r = c.post(STOCKS, files={"file": ("stock-feb.xlsx", buf.getvalue())}, headers=a.as_("operator"))
    assert r.status_code == 200, r.text
    rows = {x["month"]: x for x in c.get(STOCKS, headers=a.as_("viewer")).json()["rows"]}
    assert rows["2026-01"] == coal
    assert rows["2026-02"]["consumed_t"] == pytest.approx(9000 + 20000 - 8500)
    assert rows["2026-02"]["entered_by"] == "operator-key"
    stored = path.read_bytes()
    neg = "material,month,opening_t,receipts_t,closing_t,reference,entered_by\ncoal,2026-03,8500,100,9000,ST-3,s\n"
    r = c.post(STOCKS, files={"file": ("march.csv", neg.encode())}, headers=a.as_("operator"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"].startswith(
        "march.csv: row 2 (coal 2026-03): closing_t: the balance goes negative"
    )
    assert path.read_bytes() == stored
    log = c.get("/api/v1/audit", params={"entity": "stock"}, headers=a.as_("auditor")).json()
    assert [(x["action"], x["actor"]) for x in log] == [("upload", "operator-key")]
