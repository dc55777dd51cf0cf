"""Direct-emission figures to and from InfluxDB: measurement `direct`, one point per unit, source and local day.

Schema (bucket `metering`, docs/design.md): tags `site`, `unit` (emission unit), `source`
(`product`, `fuel`, `biogenic`, `process_clinker`, `process_dust`, `process_toc`),
`material`; fields `co2_t` (tCO2; for `product` the unit's total direct CO2), `activity_t`
(tonnes of the material: fuel burnt, clinker made, dust discharged, raw meal fed),
`method` (id@version), `complete` (false when a must-measure parameter was missing that day).
Time = the local day's start. A recompute writes the same points again (same tags and time),
so it overwrites rather than adds.

Measurement `cbam` (same bucket, time and overwrite rule): tags `site`, `unit`, `product`
(`clinker`, `cement`); fields `production_t`, `direct_tco2`, `indirect_tco2` (the product's
own: clinker its direct CO2 and its line's electricity × location factor; cement its mill's
electricity), `electricity_mwh`, `precursor_t` (clinker in the cement), `method`. Per tonne
over a range = Σ part / Σ production_t; cement adds `precursor_t` × the clinker's per-tonne
figures of the same range (metering/direct/cbam.py).
"""

from __future__ import annotations

import pandas as pd

from metering.direct.accounting import Accounts, UnitResult
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import (
    InfluxTarget,
    escape_string_field,
    escape_tag_value,
    influxql,
    quote_literal,
    write_lines,
)

MEASUREMENT = sc.DIRECT


def _point(
    site: str,
    unit: str,
    source: str,
    material: str,
    day: pd.Timestamp,
    tz: str,
    co2: float,
    activity: float,
    method: str,
    complete: bool,
) -> str:
    ms = int(pd.Timestamp(day).tz_localize(tz).timestamp() * 1000)
    tags = ",".join(
        f"{k}={escape_tag_value(v)}"
        for k, v in (("material", material), ("site", site), ("source", source), ("unit", unit))
    )
    fields = (
        f"activity_t={float(activity)!r},co2_t={float(co2)!r},complete={str(complete).lower()},"
        f"method={escape_string_field(method)}"
    )
    return f"{MEASUREMENT},{tags} {fields} {ms}"


def unit_lines(u: UnitResult, site: str, tz: str, method: str) -> list[str]:
    d = u.days
    col = {c: d[c].to_numpy(dtype=float) for c in d.columns}
    co2_cols = [c for c in d.columns if c.endswith("_co2_t") or c.endswith("_biogenic_t")]
    # A day is complete when every must-measure parameter had a value: none of its CO2 is NaN.
    complete = ~d[co2_cols].isna().any(axis=1).to_numpy()
    out: list[str] = []
    per_day = u.direct_per_day().to_numpy(dtype=float)
    for i, day in enumerate(d.index):
        ok = bool(complete[i])
        direct = float(per_day[i])
        pts = [("product", u.unit.clinker, direct, col["clinker_t"][i])]
        for f in u.fuels:
            m = f["material"]
            pts.append(("fuel", m, col[f"fuel_{m}_co2_t"][i], col[f"fuel_{m}_t"][i]))
            if f["biogenic_t"] > 0:
                pts.append(("biogenic", m, col[f"fuel_{m}_biogenic_t"][i], col[f"fuel_{m}_t"][i]))
        pts.append(("process_clinker", u.unit.clinker, col["process_clinker_co2_t"][i], col["clinker_t"][i]))
        pts.append(("process_dust", u.unit.clinker, col["process_dust_co2_t"][i], col["dust_t"][i]))
        pts.append(("process_toc", u.unit.raw_meal or "none", col["process_toc_co2_t"][i], col["raw_meal_t"][i]))
        for src, mat, co2, act in pts:
            if pd.notna(co2) and pd.notna(act):
                out.append(_point(site, u.unit.id, src, mat, day, tz, float(co2), float(act), method, ok))
    return out


def cbam_lines(days: pd.DataFrame, site: str, tz: str, method: str) -> list[str]:
    """Measurement `cbam`: one point per unit, product and local day (`cbam.cbam_days` rows)."""
    out: list[str] = []
    for r in days.to_dict("records"):
        ms = int(pd.Timestamp(r["day"]).tz_localize(tz).timestamp() * 1000)
        pairs = (("product", str(r["product"])), ("site", site), ("unit", str(r["unit"])))
        tags = ",".join(f"{k}={escape_tag_value(v)}" for k, v in pairs)
        fields = ",".join(
            f"{k}={float(r[k])!r}"
            for k in ("direct_tco2", "electricity_mwh", "indirect_tco2", "precursor_t", "production_t")
            if pd.notna(r[k])
        )
        if fields:
            out.append(f"{sc.CBAM},{tags} {fields},method={escape_string_field(method)} {ms}")
    return out


def write_accounts(target: InfluxTarget, acc: Accounts, site: str, tz: str) -> int:
    """Write the `direct` and `cbam` points of the accounts; the number of points written."""
    lines = [ln for u in acc.units for ln in unit_lines(u, site, tz, acc.method)]
    lines += cbam_lines(acc.cbam_days, site, tz, acc.method)
    for i in range(0, len(lines), 20_000):
        write_lines(target, target.metering_bucket, lines[i : i + 20_000])
    return len(lines)


def read_direct(
    target: InfluxTarget, site: str, start: pd.Timestamp, end: pd.Timestamp, measurement: str = MEASUREMENT
) -> pd.DataFrame:
    """The stored `direct` points of a site in [start, end): time, unit, source, material, co2_t, activity_t, …
    (`measurement=sc.CBAM`: the `cbam` points: time, unit, product, production_t, direct_tco2, …)."""
    q = (
        f'SELECT * FROM "{measurement}" WHERE "site" = {quote_literal(site)} '
        f"AND time >= '{start.tz_convert('UTC').isoformat()}' AND time < '{end.tz_convert('UTC').isoformat()}'"
    )
    return influxql(target, q, database=target.metering_bucket)


def summarise(points: pd.DataFrame) -> list[dict[str, object]]:
    """Stored daily points → per unit: clinker, direct CO2 by source and material, intensity, biogenic memo."""
    if points.empty:
        return []
    out: list[dict[str, object]] = []
    for unit, g in points.groupby("unit", sort=True):
        prod = g[g["source"] == "product"]
        clinker, direct = float(prod["activity_t"].sum()), float(prod["co2_t"].sum())
        rows = (
            g[g["source"] != "product"]
            .groupby(["source", "material"], sort=True)[["co2_t", "activity_t"]]
            .sum()
            .reset_index()
        )
        out.append(
            {
                "unit": str(unit),
                "days": len(prod),
                "complete": bool(g["complete"].astype(bool).all()),
                "clinker_t": clinker,
                "direct_co2_t": direct,
                "intensity_tco2_per_t": direct / clinker if clinker > 0 else None,
                "memo_biogenic_co2_t": float(g.loc[g["source"] == "biogenic", "co2_t"].sum()),
                "methods": sorted({str(m) for m in g["method"]}),
                "sources": [
                    {"source": str(src), "material": str(mat), "co2_t": float(co2), "activity_t": float(act)}
                    for src, mat, co2, act in zip(
                        rows["source"], rows["material"], rows["co2_t"], rows["activity_t"], strict=True
                    )
                ],
            }
        )
    return out
