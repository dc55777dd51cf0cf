"""DR tracking and verification: baseline vs actual per 15-minute interval, performance and payment.

Pure pandas. `track` gives, per event interval, baseline, actual, reduction, the request and
whether the event is on track (the average reduction so far reaches the programme's minimum
performance). `report` turns a finished event's tracking into the performance report: the
reduction per interval and on average, compliance with the programme's band, and the payment
estimate. `write_report` saves it as JSON, CSV and XLSX; `dr_lines` gives the `dr` measurement.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from metering.dr.events import DrEvent
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import line


def track(event: DrEvent, baseline_kw: pd.Series, actual_kw: pd.Series) -> pd.DataFrame:
    """Per event interval (index = interval start): baseline_kw, actual_kw, reduction_kw, requested_kw,
    cum_avg_reduction_kw, on_track. Intervals with no actual yet are NaN and not on track."""
    idx = pd.DatetimeIndex(baseline_kw.index)
    actual = actual_kw.reindex(idx)
    df = pd.DataFrame(
        {"baseline_kw": baseline_kw.to_numpy(dtype=float), "actual_kw": actual.to_numpy(dtype=float)}, index=idx
    )
    df["reduction_kw"] = df["baseline_kw"] - df["actual_kw"]
    if event.requested_reduction_kw is not None:
        df["requested_kw"] = float(event.requested_reduction_kw)
    else:
        assert event.target_kw is not None
        df["requested_kw"] = (df["baseline_kw"] - float(event.target_kw)).clip(lower=0.0)
    done = df["reduction_kw"].notna()
    df["cum_avg_reduction_kw"] = df["reduction_kw"].where(done).expanding().mean()
    cum_req = df["requested_kw"].where(done).expanding().mean()
    need = cum_req * event.programme.min_performance_pct / 100.0
    df["on_track"] = done & (df["cum_avg_reduction_kw"] >= need)
    df.index.name = "interval_start"
    return df


@dataclass(frozen=True)
class Report:
    event_id: str
    site: str
    start: str
    end: str
    baseline_method: str
    intervals: int
    intervals_measured: int
    requested_kw: float  # mean request over the event
    avg_reduction_kw: float
    reduced_kwh: float
    performance_pct: float
    min_performance_pct: float
    max_performance_pct: float
    compliant: bool
    paid_kw: float  # the average reduction that is paid (capped at the band's maximum)
    payment_basis: str
    payment_rate: float
    payment: float
    currency: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def report(event: DrEvent, tracking: pd.DataFrame, baseline_method: str) -> Report:
    """The performance report of a finished event from its tracking table."""
    measured = tracking.dropna(subset=["reduction_kw"])
    n = len(tracking)
    if measured.empty:
        avg = requested = perf = paid = kwh = 0.0
    else:
        avg = float(measured["reduction_kw"].mean())
        requested = float(measured["requested_kw"].mean())
        perf = 100.0 * avg / requested if requested > 0 else 0.0
        kwh = float(measured["reduction_kw"].sum()) * 0.25
    prog = event.programme
    # An event with gaps cannot be verified in full: it is not compliant.
    compliant = len(measured) == n and n > 0 and perf >= prog.min_performance_pct
    if compliant:
        paid = min(avg, requested * prog.max_performance_pct / 100.0)
        payment = prog.payment_rate * (paid if prog.payment_basis == "kw" else paid * len(measured) * 0.25)
    else:
        paid, payment = 0.0, 0.0
    return Report(
        event_id=event.id,
        site=event.site,
        start=event.start.isoformat(),
        end=event.end.isoformat(),
        baseline_method=baseline_method,
        intervals=n,
        intervals_measured=len(measured),
        requested_kw=round(requested, 3),
        avg_reduction_kw=round(avg, 3),
        reduced_kwh=round(kwh, 3),
        performance_pct=round(perf, 2),
        min_performance_pct=prog.min_performance_pct,
        max_performance_pct=prog.max_performance_pct,
        compliant=compliant,
        paid_kw=round(paid, 3),
        payment_basis=prog.payment_basis,
        payment_rate=prog.payment_rate,
        payment=round(payment, 2),
        currency=prog.currency,
    )


def write_report(rep: Report, tracking: pd.DataFrame, out_dir: str | Path) -> dict[str, Path]:
    """Save `<event>.json` (summary + intervals), `<event>.csv` (intervals) and `<event>.xlsx` (both sheets)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = tracking.reset_index()
    table["interval_start"] = table["interval_start"].map(lambda t: pd.Timestamp(t).isoformat())
    paths = {k: out / f"{rep.event_id}.{k}" for k in ("json", "csv", "xlsx")}
    rows = json.loads(table.to_json(orient="records"))
    paths["json"].write_text(json.dumps({"summary": rep.as_dict(), "intervals": rows}, indent=2, ensure_ascii=False))
    table.to_csv(paths["csv"], index=False)
    with pd.ExcelWriter(paths["xlsx"], engine="openpyxl") as xw:
        pd.DataFrame([rep.as_dict()]).T.rename(columns={0: "value"}).to_excel(xw, sheet_name="summary")
        table.to_excel(xw, sheet_name="intervals", index=False)
    return paths


def dr_lines(event: DrEvent, tracking: pd.DataFrame) -> list[str]:
    """The `dr` measurement: tags site, event; fields baseline_kw, actual_kw, reduction_kw, requested_kw, on_track."""
    out = []
    for ts, row in tracking.iterrows():
        fields: dict[str, float | bool] = {}
        for k in ("baseline_kw", "actual_kw", "reduction_kw", "requested_kw"):
            v = float(row[k])
            if math.isfinite(v):
                fields[k] = v
        fields["on_track"] = bool(row["on_track"])
        out.append(
            line(sc.DR, {"site": event.site, "event": event.id}, fields, int(pd.Timestamp(str(ts)).value // 1_000_000))
        )
    return out
