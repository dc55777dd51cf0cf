"""DR tracking and the performance report: on-track flags, compliance band, payment, JSON/CSV/XLSX."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from metering.dr.events import DrEvent, parse_event
from metering.dr.verify import dr_lines, report, track, write_report

TZ = "Asia/Shanghai"
IDX = pd.date_range("2025-07-15 14:00", periods=8, freq="15min", tz=TZ)


def event(**kw: object) -> DrEvent:
    doc = {
        "id": "ev-1", "site": "plant-a", "start": "2025-07-15T14:00:00+08:00", "end": "2025-07-15T16:00:00+08:00",
        "meters": ["tr-01"], "requested_reduction_kw": 500,
        "programme": {"baseline": "10of10", "min_performance_pct": 80, "max_performance_pct": 120,
                      "payment_rate": 15, "payment_basis": "kw"},
    }  # fmt: skip
    doc.update(kw)
    return parse_event(doc, source="api")


def test_track_flags_on_track_by_cumulative_average() -> None:
    ev = event()
    base = pd.Series([4000.0] * 8, index=IDX)
    # Reductions 300, 500, 600, then no data yet.
    actual = pd.Series([3700.0, 3500.0, 3400.0], index=IDX[:3])
    t = track(ev, base, actual)
    assert t["reduction_kw"].iloc[:3].tolist() == pytest.approx([300.0, 500.0, 600.0])
    # Cumulative averages 300, 400, 466.7 against 80 % of 500 = 400: off, on, on; no data → not on track.
    assert t["on_track"].tolist() == [False, True, True, False, False, False, False, False]


def test_report_payment_capped_at_the_band_maximum() -> None:
    # Jiangsu pays per kW of verified reduction per event (e.g. 15 CNY/kW for real-time response
    # over 2 h, 《江苏省电力需求响应实施细则（修订版）》 2018). Average reduction 700 kW on a 500 kW
    # request = 140 %: compliant, paid for at most 120 % = 600 kW → 9000 CNY.
    ev = event()
    t = track(ev, pd.Series([4000.0] * 8, index=IDX), pd.Series([3300.0] * 8, index=IDX))
    r = report(ev, t, "10of10")
    assert (r.avg_reduction_kw, r.performance_pct, r.compliant) == (pytest.approx(700.0), pytest.approx(140.0), True)
    assert r.paid_kw == pytest.approx(600.0)
    assert r.payment == pytest.approx(9000.0)
    assert r.reduced_kwh == pytest.approx(700.0 * 2)


def test_report_under_minimum_is_not_paid_and_kwh_basis() -> None:
    ev = event()
    t = track(ev, pd.Series([4000.0] * 8, index=IDX), pd.Series([3650.0] * 8, index=IDX))
    r = report(ev, t, "10of10")
    assert r.performance_pct == pytest.approx(70.0) and not r.compliant and r.payment == 0
    ev2 = event(programme={"payment_rate": 0.5, "payment_basis": "kwh", "min_performance_pct": 50})
    r = report(ev2, track(ev2, pd.Series([4000.0] * 8, index=IDX), pd.Series([3650.0] * 8, index=IDX)), "x")
    assert r.payment == pytest.approx(0.5 * 350 * 2)  # 350 kW for 2 h


def test_target_event_requests_the_gap_to_the_target() -> None:
    ev = event(requested_reduction_kw=None, target_kw=3600)
    t = track(ev, pd.Series([4000.0, 3500.0] + [4000.0] * 6, index=IDX), pd.Series([3600.0] * 8, index=IDX))
    assert t["requested_kw"].tolist()[:2] == pytest.approx([400.0, 0.0])


def test_gaps_make_an_event_non_compliant() -> None:
    ev = event()
    t = track(ev, pd.Series([4000.0] * 8, index=IDX), pd.Series([3300.0] * 7, index=IDX[:7]))
    r = report(ev, t, "10of10")
    assert r.intervals_measured == 7 and not r.compliant


def test_exports_and_dr_lines(tmp_path: Path) -> None:
    ev = event()
    t = track(ev, pd.Series([4000.0] * 8, index=IDX), pd.Series([3400.0] * 8, index=IDX))
    r = report(ev, t, "10of10")
    paths = write_report(r, t, tmp_path)
    doc = json.loads(paths["json"].read_text())
    assert doc["summary"]["avg_reduction_kw"] == pytest.approx(600.0) and len(doc["intervals"]) == 8
    csv = pd.read_csv(paths["csv"])
    assert csv["reduction_kw"].tolist() == pytest.approx([600.0] * 8)
    wb = openpyxl.load_workbook(paths["xlsx"])
    assert wb.sheetnames == ["summary", "intervals"]
    assert wb["intervals"].max_row == 9
    lines = dr_lines(ev, t)
    assert len(lines) == 8 and lines[0].startswith("dr,event=ev-1,site=plant-a actual_kw=3400,baseline_kw=4000,")
