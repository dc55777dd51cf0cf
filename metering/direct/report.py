"""The period's accounts as a document (JSON), flat rows (CSV) or a workbook (XLSX), boundaries kept apart."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from metering.direct.accounting import Accounts, UnitResult

ROW_COLUMNS = ["boundary", "unit", "item", "value", "value_unit", "basis", "method", "provenance"]


def _num(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else v


def unit_doc(u: UnitResult, benchmark: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": u.unit.id,
        "name": u.unit.name,
        "clinker_t": u.clinker_t,
        "fuel": [dict(f) for f in u.fuels],
        "fuel_co2_t": u.fuel_co2_t,
        "process": {
            "clinker_co2_t": u.total("process_clinker_co2_t"),
            "dust_co2_t": u.total("process_dust_co2_t"),
            "raw_meal_toc_co2_t": u.total("process_toc_co2_t"),
            "co2_t": u.process_co2_t,
        },
        "direct_co2_t": u.direct_co2_t,
        "intensity_tco2_per_t_clinker": _num(u.intensity),
        "benchmark": benchmark,
        "memo_biogenic_co2_t": u.biogenic_co2_t,
        "complete": not u.missing,
        "missing": u.missing,
        "reconciliation": u.reconciliation,
        "parameters": [p.as_dict() for p in u.params],
    }


def document(acc: Accounts, plant_id: str, benchmark: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "plant": plant_id,
        "period": {"start": acc.start.isoformat(), "end": acc.end.isoformat()},
        "method": acc.method,
        "ets": {
            "boundary": "national carbon market: direct emissions per emission unit (fuel + process); "
            "purchased electricity and heat excluded; biogenic CO2 memo only",
            "units": [unit_doc(u, benchmark) for u in acc.units],
        },
        "gbt32150": acc.gbt32150(),
        "cbam": {
            "boundary": "EU CBAM specific embedded emissions per tonne (direct and indirect), clinker as precursor",
            "products": [{k: _num(v) if isinstance(v, float) else v for k, v in c.items()} for c in acc.cbam],
        },
        "warnings": acc.warnings,
    }


def rows(acc: Accounts) -> pd.DataFrame:
    """One row per figure and per parameter, each with its boundary, method and provenance."""
    out: list[dict[str, Any]] = []

    def add(boundary: str, unit: str, item: str, value: float, vunit: str, basis: str, method: str, prov: str) -> None:
        out.append(dict(zip(ROW_COLUMNS, [boundary, unit, item, value, vunit, basis, method, prov], strict=True)))

    m = acc.method
    for u in acc.units:
        uid = u.unit.id
        add("ets", uid, "clinker", u.clinker_t, "t", "measured", m, "")
        for f in u.fuels:
            add("ets", uid, f"fuel {f['material']} CO2", f["co2_t"], "tCO2", "calculated", m, f["kind"])
            add(
                "memo",
                uid,
                f"fuel {f['material']} biogenic CO2 (not counted)",
                f["biogenic_t"],
                "tCO2",
                "calculated",
                m,
                f["kind"],
            )
        add("ets", uid, "process CO2 (clinker)", u.total("process_clinker_co2_t"), "tCO2", "calculated", m, "")
        add(
            "ets",
            uid,
            "process CO2 (kiln-head and bypass dust)",
            u.total("process_dust_co2_t"),
            "tCO2",
            "calculated",
            m,
            "",
        )
        add(
            "ets",
            uid,
            "process CO2 (raw meal non-fuel carbon)",
            u.total("process_toc_co2_t"),
            "tCO2",
            "calculated",
            m,
            "",
        )
        add("ets", uid, "total direct CO2", u.direct_co2_t, "tCO2", "calculated", m, "fuel + process")
        add("ets", uid, "intensity", u.intensity, "tCO2/t clinker", "calculated", m, "direct CO2 / clinker")
        for p in u.params:
            add("parameter", uid, f"{p.material} {p.name}", p.value, p.unit, p.basis, m, " | ".join(p.provenance))
        for miss in u.missing:
            add("missing", uid, miss, float("nan"), "", "missing", m, "")
    g = acc.gbt32150()
    for r in g["scope1"]["rows"]:
        add("gbt32150 scope 1", "", r["item"], r["tco2"], "tCO2", "calculated", "GB/T 32150", r["source"])
    add("gbt32150 scope 1", "", "scope 1 total", g["scope1"]["tco2"], "tCO2", "calculated", "GB/T 32150", "")
    for s in g["scope2"]:
        add(
            f"gbt32150 scope 2 {s['method']}",
            "",
            f"scope 2 ({s['method']}-based)",
            s["tco2"],
            "tCO2",
            "calculated",
            s["method"],
            ", ".join(s["factors"]),
        )
    for t in g["totals"]:
        add(f"gbt32150 total {t['method']}", "", t["label"], t["tco2"], "tCO2", "calculated", t["method"], "")
    for c in acc.cbam:
        for k in ("see_direct_tco2_per_t", "see_indirect_tco2_per_t", "see_total_tco2_per_t", "electricity_mwh_per_t"):
            add("cbam", c["unit"], f"{c['product']} {k}", c[k], "", "calculated", "CBAM", c["electricity_factor"])
    return pd.DataFrame(out, columns=ROW_COLUMNS)


def write(acc: Accounts, plant_id: str, fmt: str, path: Path, benchmark: dict[str, Any] | None = None) -> None:
    """Write to `path` through a temporary file renamed into place: never half a report."""
    import json
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if fmt == "json":
            Path(tmp).write_text(json.dumps(document(acc, plant_id, benchmark), ensure_ascii=False, indent=1), "utf-8")
        elif fmt == "csv":
            rows(acc).to_csv(tmp, index=False)
        else:
            _xlsx(acc, Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _xlsx(acc: Accounts, path: Path) -> None:
    table = rows(acc)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, mask in (
            ("ETS direct", table["boundary"].isin(["ets", "memo"])),
            ("GBT32150", table["boundary"].str.startswith("gbt32150")),
            ("CBAM", table["boundary"] == "cbam"),
            ("Parameters", table["boundary"].isin(["parameter", "missing"])),
        ):
            table[mask].to_excel(xl, sheet_name=name, index=False)
        for u in acc.units:
            days = u.days.copy()
            days.index = pd.DatetimeIndex(days.index).date
            days.to_excel(xl, sheet_name=f"Days {u.unit.id}"[:31], index_label="day")
