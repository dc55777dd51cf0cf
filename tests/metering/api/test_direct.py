"""GET /api/v1/direct: a unit's direct emissions over a period, summed from the daily `direct` points."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from metering.direct.accounting import account
from metering.direct.influx import write_accounts
from tests.metering.api.conftest import Api
from tests.metering.direct.case import make_case
from tests.metering.direct.conftest import dataset

pytestmark = pytest.mark.integration


def test_direct_figures_of_a_stored_month(api: Api, tmp_path: Path) -> None:
    case = make_case(tmp_path / "case")
    ds = dataset(case)
    acc = account(ds, case.days[0], case.days[-1])
    write_accounts(api.influx, acc, "cem-t", ds.plant.site.timezone)
    q = {"site": "cem-t", "start": "2026-01-01T00:00:00+08:00", "end": "2026-02-01T00:00:00+08:00"}
    r = api.client.get("/api/v1/direct", params=q, headers=api.as_("viewer"))
    assert r.status_code == 200, r.text
    (unit,) = r.json()["units"]
    truth = case.truth()
    assert unit["unit"] == "kiln-1" and unit["days"] == 31 and unit["complete"] is True
    assert unit["direct_co2_t"] == pytest.approx(truth["direct_co2_t"], rel=1e-9)
    assert unit["clinker_t"] == pytest.approx(truth["clinker_t"], rel=1e-9)
    assert unit["memo_biogenic_co2_t"] == pytest.approx(truth["biogenic_t"], rel=1e-9)
    counted = sum(s["co2_t"] for s in unit["sources"] if s["source"] != "biogenic")
    assert counted == pytest.approx(unit["direct_co2_t"], rel=1e-9)
    assert unit["methods"] == ["cn-cement-clinker-2025@2025.1"]
    # one week: the days of that week only
    week = {**q, "end": "2026-01-08T00:00:00+08:00", "unit": "kiln-1"}
    (w,) = api.client.get("/api/v1/direct", params=week, headers=api.as_("viewer")).json()["units"]
    assert w["direct_co2_t"] == pytest.approx(case.truth([dt.date(2026, 1, d) for d in range(1, 8)])["direct_co2_t"])
    none = api.client.get("/api/v1/direct", params={**q, "unit": "kiln-9"}, headers=api.as_("viewer"))
    assert none.status_code == 200 and none.json()["units"] == []
    bad = api.client.get("/api/v1/direct", params={**q, "unit": "Kiln 1!"}, headers=api.as_("viewer"))
    assert bad.status_code == 422
