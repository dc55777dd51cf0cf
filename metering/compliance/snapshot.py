"""A month's figures and the exact inputs behind them (a lock), and the difference between two of them.

A snapshot is plain JSON: the unit's figures, every parameter with its value and basis, and
the input versions (lab sample id@version, gap fills by rule, method defaults as
method id@version kind.parameter, factor ids, stock-take references, and a SHA-256 digest of
the month's readings of the unit's meters). Two snapshots of the same month differ exactly
where a figure, a parameter or an input changed: that is what a revision shows.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pandas as pd

from metering.compliance.review import FILL_LAB, Review, month_days, unit_materials
from metering.direct.figures import Accounts, Dataset, UnitResult

FIGURES = (
    "clinker_t",
    "fuel_co2_t",
    "process_clinker_co2_t",
    "process_dust_co2_t",
    "process_toc_co2_t",
    "process_co2_t",
    "direct_co2_t",
    "biogenic_co2_t",
    "intensity_tco2_per_t",
)


def _num(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def figures(u: UnitResult) -> dict[str, Any]:
    return {
        "clinker_t": _num(u.clinker_t),
        "fuel_co2_t": _num(u.fuel_co2_t),
        "process_clinker_co2_t": _num(u.total("process_clinker_co2_t")),
        "process_dust_co2_t": _num(u.total("process_dust_co2_t")),
        "process_toc_co2_t": _num(u.total("process_toc_co2_t")),
        "process_co2_t": _num(u.process_co2_t),
        "direct_co2_t": _num(u.direct_co2_t),
        "biogenic_co2_t": _num(u.biogenic_co2_t),
        "intensity_tco2_per_t": _num(u.intensity),
        "fuels": {
            f["material"]: {"consumed_t": _num(f["consumed_t"]), "co2_t": _num(f["co2_t"]), "kind": f["kind"]}
            for f in u.fuels
        },
    }


def readings_digest(ds: Dataset, devices: list[str], month: str) -> dict[str, Any]:
    """SHA-256 over the month's readings of `devices` (device, quantity, epoch ms, value), in a fixed order."""
    days = month_days(month)
    tz = ds.plant.site.timezone
    t0 = pd.Timestamp(days[0]).tz_localize(tz).tz_convert("UTC")
    t1 = (pd.Timestamp(days[-1]) + pd.Timedelta(days=1)).tz_localize(tz).tz_convert("UTC")
    r = ds.readings
    h = hashlib.sha256()
    if r is None or r.empty:
        return {"sha256": h.hexdigest(), "count": 0, "devices": sorted(devices), "from": str(t0), "to": str(t1)}
    t = pd.DatetimeIndex(r["time"])
    m = r["device"].astype(str).isin(devices).to_numpy() & (t >= t0) & (t < t1)
    sel = pd.DataFrame(
        {
            "device": r["device"].astype(str)[m],
            "quantity": r["quantity"].astype(str)[m],
            "ms": t[m].asi8 // 1_000_000,
            "value": r["value"].astype(float)[m],
        }
    ).sort_values(["device", "quantity", "ms"])
    for d, q, ms, v in sel.itertuples(index=False):
        h.update(f"{d},{q},{ms},{v!r}\n".encode())
    return {"sha256": h.hexdigest(), "count": len(sel), "devices": sorted(devices), "from": str(t0), "to": str(t1)}


def snapshot(ds: Dataset, acc: Accounts, u: UnitResult, review: Review) -> dict[str, Any]:
    """The lock of a unit's month: figures, parameters, and every input version they came from."""
    month = review.month
    mats = unit_materials(u.unit)
    days = month_days(month)
    cur = ds.lab.current
    lab: list[str] = []
    fills: list[str] = []
    if not cur.empty:
        mine = cur[cur["material"].isin(mats)]
        for rec in mine.to_dict("records"):
            if pd.Timestamp(rec["period_end"]) < days[0] or pd.Timestamp(rec["period_start"]) > days[-1]:
                continue
            ref = f"{rec['sample_id']}@{rec['version']}"
            (fills if rec["lab"] == FILL_LAB else lab).append(f"{ref} {rec['material']} {rec['parameter']}")
    defaults = sorted(i.default["ref"] for i in review.items if i.default is not None)
    stocks: list[str] = []
    if ds.stocks is not None and not ds.stocks.empty:
        st = ds.stocks[ds.stocks["material"].isin(mats) & (ds.stocks["month"].astype(str) == month)]
        stocks = sorted(f"{r['reference']} {r['material']} {r['month']}" for r in st.to_dict("records"))
    factors = sorted(
        {ds.method.ref}
        | {f.strip() for c in acc.cbam if c["unit"] == u.unit.id for f in str(c["electricity_factor"]).split(",") if f}
    )
    devices = sorted({d for m in mats for d in ds.cfg.materials[m].devices})
    return {
        "unit": u.unit.id,
        "month": month,
        "method": ds.method.ref,
        "boundary": "national carbon market (ETS): direct emissions of the emission unit, fuel + process; "
        "biogenic CO2 memo only",
        "figures": figures(u),
        "parameters": [
            {"material": p.material, "parameter": p.name, "value": _num(p.value), "unit": p.unit, "basis": p.basis}
            for p in u.params
        ],
        "inputs": {
            "lab": sorted(lab),
            "fills": sorted(fills),
            "defaults": defaults,
            "factors": factors,
            "stocks": stocks,
            "readings": readings_digest(ds, devices, month),
        },
    }


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b))
    return bool(a != b)


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed from one snapshot to another: figures, parameters (value or basis), and inputs."""
    out: list[dict[str, Any]] = []
    fa, fb = before["figures"], after["figures"]
    for k in FIGURES:
        if _differs(fa.get(k), fb.get(k)):
            out.append({"kind": "figure", "item": k, "before": fa.get(k), "after": fb.get(k)})
    for mat in sorted(set(fa.get("fuels", {})) | set(fb.get("fuels", {}))):
        a, b = fa.get("fuels", {}).get(mat, {}), fb.get("fuels", {}).get(mat, {})
        if _differs(a.get("co2_t"), b.get("co2_t")):
            out.append(
                {"kind": "figure", "item": f"fuel {mat} co2_t", "before": a.get("co2_t"), "after": b.get("co2_t")}
            )
    pa = {(p["material"], p["parameter"]): p for p in before["parameters"]}
    pb = {(p["material"], p["parameter"]): p for p in after["parameters"]}
    for key in sorted(set(pa) | set(pb)):
        a, b = pa.get(key, {}), pb.get(key, {})
        if _differs(a.get("value"), b.get("value")) or a.get("basis") != b.get("basis"):
            out.append(
                {
                    "kind": "parameter",
                    "item": f"{key[0]} {key[1]}",
                    "before": a.get("value"),
                    "after": b.get("value"),
                    "basis_before": a.get("basis"),
                    "basis_after": b.get("basis"),
                }
            )
    ia, ib = before["inputs"], after["inputs"]
    for k in ("lab", "fills", "defaults", "factors", "stocks"):
        gone, new = sorted(set(ia[k]) - set(ib[k])), sorted(set(ib[k]) - set(ia[k]))
        if gone or new:
            out.append({"kind": "input", "item": k, "before": gone, "after": new})
    if ia["readings"]["sha256"] != ib["readings"]["sha256"]:
        out.append(
            {
                "kind": "input",
                "item": "readings",
                "before": f"{ia['readings']['count']} readings sha256 {ia['readings']['sha256'][:12]}",
                "after": f"{ib['readings']['count']} readings sha256 {ib['readings']['sha256'][:12]}",
            }
        )
    return out
