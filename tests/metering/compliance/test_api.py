"""The month through the real app: readings in a real InfluxDB 2.7, lab file in the data dir, keys per role."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from metering.api.app import create_app
from metering.api.settings import ApiSettings
from metering.compliance.workbook import file_ref
from metering.direct.config import carbon_config
from metering.direct.lab import correct, parse_lab, save_lab
from metering.dr.store import EventStore
from metering.io import read_readings_csv
from metering.state.store import ROLES, Store
from plantcarbon_core.influx import InfluxTarget, write_lines
from plantcarbon_core.plant import load_plant
from simulators.kiln import simulate, write_files
from tests.metering.compliance.conftest import MONTH, gap_lab
from tests.metering.direct.case import Case
from tests.metering.evidence import samples

pytestmark = pytest.mark.integration

BASE = f"/api/v1/compliance/kiln-1/{MONTH}"


@dataclass
class MonthApi:
    client: TestClient
    keys: dict[str, str]
    case: Case
    lab: Path

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def _raw_lines(case: Case) -> list[str]:
    plant = load_plant(case.plant)
    tags = {
        d.id: f"{d.carrier},area={d.area},kind={d.kind},device={d.id},edge=e1,site={plant.site.id}"
        for d in plant.devices
    }
    r = read_readings_csv(case.readings)
    ms = [int(t.timestamp() * 1000) for t in r["time"]]
    return [f"{tags[d]} {q}={v!r} {t}" for d, q, v, t in zip(r["device"], r["quantity"], r["value"], ms, strict=True)]


def month_app(influx_target: InfluxTarget, tmp_path: Path) -> tuple[FastAPI, Store, Case, Path]:
    """A simulated January of the kiln line in InfluxDB `raw`, its lab book (with a gap) and stocks in the
    data directory, and the app serving them: (app, store, case, lab file). The browser month test uses it too."""
    line = simulate(*_days(), seed=7)
    paths = write_files(line, tmp_path / "case", step_s=900)  # 15-minute counters: the same daily tonnes
    case = Case(
        tmp_path / "case", paths["plant.yaml"], paths["readings.csv"], paths["lab.csv"], paths["stocks.csv"], line
    )
    lines = _raw_lines(case)
    for i in range(0, len(lines), 20_000):
        write_lines(influx_target, influx_target.raw_bucket, lines[i : i + 20_000])
    data = tmp_path / "data"
    (data / "carbon").mkdir(parents=True)
    lab = gap_lab(case, data / "carbon" / "lab.csv")
    (data / "carbon" / "stocks.csv").write_bytes(case.stocks.read_bytes())
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    app = create_app(
        ApiSettings(env="development", data_dir=data),
        store=store,
        plant=load_plant(case.plant),
        influx=influx_target,
        dr_store=EventStore(tmp_path / "dr.sqlite"),
        start_alerts=False,
    )
    return app, store, case, lab


@pytest.fixture
def month_api(influx_target: InfluxTarget, tmp_path: Path) -> Iterator[MonthApi]:
    app, store, case, lab = month_app(influx_target, tmp_path)
    keys = {role: store.create_key(f"{role.replace('_', '-')}-key", role) for role in ROLES}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield MonthApi(client, keys, case, lab)
    store.close()


def _days():  # type: ignore[no-untyped-def]
    import pandas as pd

    p = pd.Period(MONTH, freq="M")
    return p.start_time.date(), p.end_time.date()


def test_the_month_review_approve_lock_correct_revise_workbook(month_api: MonthApi) -> None:
    c, a = month_api.client, month_api
    st = c.get(BASE, headers=a.as_("viewer")).json()
    assert st["state"] == "open" and st["revisions"] == []
    cao = next(i for i in st["current"]["review"]["items"] if (i["material"], i["parameter"]) == ("clinker", "cao"))
    assert cao["status"] == "filled" and cao["missing_days"] == ["2026-01-05", "2026-01-06"]
    assert c.post(f"{BASE}/review", headers=a.as_("viewer")).status_code == 403
    assert c.post(f"{BASE}/approve", headers=a.as_("energy_manager")).status_code == 409  # not in review yet
    r = c.post(f"{BASE}/review", headers=a.as_("operator"))
    assert r.status_code == 200 and r.json()["state"] == "in_review"
    assert c.post(f"{BASE}/approve", headers=a.as_("operator")).status_code == 403
    assert c.post(f"{BASE}/approve", headers=a.as_("auditor")).status_code == 403
    r = c.post(f"{BASE}/approve", headers=a.as_("energy_manager"))
    assert r.status_code == 200, r.text
    locked = r.json()
    assert locked["state"] == "approved" and locked["revision"] == 1
    rev1 = locked["revisions"][0]["figures"]["direct_co2_t"]
    assert locked["recompute"]["differs"] is False
    # the late lab value: the lab book gets version 2 of one sample; the locked month does not move
    plant = load_plant(a.case.plant)
    cfg, method = carbon_config(plant)
    book = correct(parse_lab(a.lab, cfg, method), "CL-20260110", "cao", 0.6701, "re-analysed", "qc-lead", cfg, method)
    save_lab(book, a.lab)
    st = c.get(BASE, headers=a.as_("auditor")).json()
    assert st["revision"] == 1 and st["revisions"][0]["figures"]["direct_co2_t"] == rev1
    assert st["recompute"]["differs"] is True
    assert {
        "kind": "input",
        "item": "lab",
        "before": ["CL-20260110@1 clinker cao"],
        "after": ["CL-20260110@2 clinker cao"],
    } in st["recompute"]["diff"]
    bad = c.post(f"{BASE}/revise", json={"reason": ""}, headers=a.as_("energy_manager"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "reason"]
    r = c.post(f"{BASE}/revise", json={"reason": "late lab value CL-20260110"}, headers=a.as_("energy_manager"))
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["revision"] == 2 and [x["revision"] for x in st["revisions"]] == [1, 2]
    assert st["revisions"][1]["reason"] == "late lab value CL-20260110"
    assert st["revisions"][1]["created_by"] == "energy-manager-key"
    assert st["revisions"][1]["figures"]["direct_co2_t"] > rev1  # CaO went up, so did process CO2
    again = c.post(f"{BASE}/revise", json={"reason": "once more"}, headers=a.as_("energy_manager"))
    assert again.status_code == 409 and "nothing to revise" in again.json()["detail"]
    # the lab's report of the late value, uploaded and linked to its sample
    up = c.post(
        "/api/v1/evidence",
        data={"kind": "lab_report", "links": ["lab_sample:CL-20260110"]},
        files={"file": ("CL-20260110-v2.pdf", samples.pdf("CL-20260110 re-analysed"), "application/pdf")},
        headers=a.as_("operator"),
    )
    assert up.status_code == 201, up.text
    # the workbook, as the auditor downloads it
    wb_r = c.get(f"{BASE}/workbook", headers=a.as_("auditor"))
    assert wb_r.status_code == 200 and wb_r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="cem-t-kiln-1-2026-01-r2.xlsx"' in wb_r.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(wb_r.content))
    cover = {r[0]: r[1] for r in wb["封面 Cover"].iter_rows(min_row=2, values_only=True)}
    assert cover["锁定版本 Locked revision"] == 2 and cover["截止日期 Due date"] == "2026-03-12"
    assert cover["直接排放合计 Total direct CO2 (t)"] == pytest.approx(st["revisions"][1]["figures"]["direct_co2_t"])
    evidence = {r[0]: r for r in wb["证据索引 Evidence"].iter_rows(values_only=True)}
    assert evidence[file_ref(up.json()["sha256"])][2] == up.json()["sha256"]  # the file an auditor fetches
    params = {(r[1], r[2]): r for r in wb["参数 Parameters"].iter_rows(min_row=2, values_only=True)}
    assert file_ref(up.json()["sha256"]) in params[("clinker", "cao")][8]
    revs = list(wb["修订 Revisions"].iter_rows(values_only=True))
    assert revs[0][:3] == ("项目 Item", "版本 Revision 1", "版本 Revision 2")
    assert any(r[1] == "input" and r[2] == "lab" and r[4] == "CL-20260110@2 clinker cao" for r in revs)
    # filing, and the audit log as the auditor reads it
    assert c.post(f"{BASE}/file", json={"reference": "CETS-0042"}, headers=a.as_("auditor")).status_code == 403
    f = c.post(f"{BASE}/file", json={"reference": "CETS-0042"}, headers=a.as_("energy_manager"))
    assert f.status_code == 200 and f.json()["state"] == "filed"
    log = c.get("/api/v1/audit", params={"entity": "compliance_month"}, headers=a.as_("auditor"))
    assert log.status_code == 200
    assert [(x["action"], x["actor"]) for x in reversed(log.json())] == [
        ("review", "operator-key"),
        ("approve", "energy-manager-key"),
        ("revise", "energy-manager-key"),
        ("file", "energy-manager-key"),
    ]
    dl = c.get(
        "/api/v1/compliance/deadlines",
        params={"unit": "kiln-1", "year": 2026, "as_of": "2026-04-20"},
        headers=a.as_("viewer"),
    ).json()
    assert dl["months"][0] == {
        "month": "2026-01",
        "due": "2026-03-12",
        "state": "filed",
        "revision": 2,
        "missing": [],
        "overdue": False,
        "days_left": None,
    }
    assert dl["months"][1]["state"] == "open" and dl["months"][1]["overdue"] is True
    # the annual report: only locked months, from their latest revision
    year = c.get("/api/v1/compliance/kiln-1/annual/2026", headers=a.as_("auditor")).json()
    assert (
        year["complete"] is False
        and len(year["months_not_locked"]) == 11
        and "2026-01" not in year["months_not_locked"]
    )
    assert year["months"][0]["revision"] == 2 and year["months"][0]["state"] == "filed"
    rev2 = st["revisions"][1]["figures"]
    assert year["totals"]["direct_co2_t"] == pytest.approx(rev2["direct_co2_t"])
    assert year["totals"]["intensity_tco2_per_t"] == pytest.approx(rev2["direct_co2_t"] / rev2["clinker_t"])
    # the CBAM communication of the month (docs/cbam.md), as XLSX: the locked revision's figures
    q = {"unit": "kiln-1", "period": MONTH, "format": "xlsx"}
    x = c.get("/api/v1/cbam/communication", params=q, headers=a.as_("auditor"))
    assert x.status_code == 200, x.text
    assert 'filename="cem-t-kiln-1-cbam-2026-01.xlsx"' in x.headers["content-disposition"]
    cw = openpyxl.load_workbook(io.BytesIO(x.content))
    em = next(cw["B_EmInst 装置排放"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert em[:2] == ("2026-01", "locked revision 2") and em[3] == pytest.approx(rev2["direct_co2_t"])
    summary = cw["Summary_Communication 汇总"]
    assert [v.value for v in summary[2]][:3] == [
        "clinker",
        "2523 10 00",
        pytest.approx(rev2["direct_co2_t"] / rev2["clinker_t"]),
    ]


def test_bad_inputs_are_refused_with_what_and_where(month_api: MonthApi) -> None:
    c, h = month_api.client, month_api.as_("energy_manager")
    r = c.get("/api/v1/compliance/kiln-1/2026-13", headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "month"]
    r = c.get(f"/api/v1/compliance/kiln-9/{MONTH}", headers=h)
    assert r.status_code == 404 and "no emission unit 'kiln-9' (units: kiln-1)" in r.json()["detail"]
    r = c.post(f"{BASE}/revise", json={"reason": "x" * 10, "extra": 1}, headers=h)
    assert r.status_code == 422
    r = c.post(f"{BASE}/revise", json={"reason": "a reason"}, headers=h)
    assert r.status_code == 409 and "only an approved or filed month is revised" in r.json()["detail"]
    r = c.get("/api/v1/compliance/deadlines", params={"unit": "kiln-1", "year": 2026, "rule": "nope"}, headers=h)
    assert r.status_code == 422 and "no deadline rule 'nope'" in r.text
    # a lab file that no longer validates: named, nothing computed
    lab = month_api.lab
    text = lab.read_text("utf-8").replace("CL-20260102,1,clinker,cao,", "CL-20260102,1,clinker,cao_pct,")
    lab.write_text(text, "utf-8")
    r = c.post(f"{BASE}/review", headers=h)
    assert r.status_code == 409 and any(
        "parameter: 'cao_pct' is not a parameter of clinker" in x for x in r.json()["detail"]
    )
    assert c.get(BASE, headers=h).status_code == 409
