"""CBAM specific embedded emissions per tonne: clinker, and cement with clinker as its precursor.

Built from one unit's accounted days (`figures.UnitResult`) and the location-based CO2 of
its electricity meters; direct and indirect are reported apart (docs/direct-emissions.md).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from metering.direct.figures import UnitResult


def _electricity(elec: pd.DataFrame, devices: list[str]) -> tuple[float, float, str]:
    """MWh, location-based tCO2 and the factor ids of some electricity meters."""
    mine = elec[elec["device"].isin(devices)] if not elec.empty else elec
    if mine.empty:
        return 0.0, 0.0, ""
    factors = ", ".join(sorted({f for fs in mine["factors"] for f in fs}))
    return float(mine["kwh"].sum()) / 1000.0, float(mine["co2_t"].sum()), factors


def _per(x: float, t: float) -> float:
    return x / t if t > 0 else float("nan")


def cbam_rows(u: UnitResult, elec: pd.DataFrame) -> list[dict[str, Any]]:
    """Specific embedded emissions per tonne: clinker, and cement with clinker as its precursor."""
    mwh, co2, factor = _electricity(elec, u.unit.electricity_devices)
    t = u.clinker_t
    see_direct, see_indirect = _per(u.direct_co2_t, t), _per(co2, t)
    clinker: dict[str, Any] = {
        "unit": u.unit.id,
        "product": "clinker",
        "cn_code": "2523 10 00",
        "precursor_of": "cement (CN 2523 21–29)",
        "production_t": t,
        "direct_tco2": u.direct_co2_t,
        "see_direct_tco2_per_t": _per(u.direct_co2_t, t),
        "electricity_mwh": mwh,
        "electricity_mwh_per_t": _per(mwh, t),
        "indirect_tco2": co2,
        "see_indirect_tco2_per_t": _per(co2, t),
        "see_total_tco2_per_t": _per(u.direct_co2_t + co2, t),
        "electricity_factor": factor,
        "electricity_devices": list(u.unit.electricity_devices),
        "values": "actual (measured and lab data; defaults where marked in parameters)",
    }
    if not u.unit.cement or "cement_t" not in u.days:
        return [clinker]
    cement_t = u.total("cement_t")
    used = u.total("cement_clinker_t")
    mill_mwh, mill_co2, mill_factor = _electricity(elec, u.unit.cement_electricity_devices)
    direct = used * see_direct
    indirect = used * see_indirect + mill_co2
    cement = {
        "unit": u.unit.id,
        "product": "cement",
        "cn_code": "2523 29 00",
        "precursor": {
            "product": "clinker",
            "t": used,
            "see_direct_tco2_per_t": clinker["see_direct_tco2_per_t"],
            "see_indirect_tco2_per_t": clinker["see_indirect_tco2_per_t"],
        },
        "production_t": cement_t,
        "clinker_share": _per(used, cement_t),
        "direct_tco2": direct,
        "see_direct_tco2_per_t": _per(direct, cement_t),
        "electricity_mwh": mill_mwh,
        "electricity_mwh_per_t": _per(mill_mwh, cement_t),
        "indirect_tco2": indirect,
        "mill_indirect_tco2": mill_co2,
        "see_indirect_tco2_per_t": _per(indirect, cement_t),
        "see_total_tco2_per_t": _per(direct + indirect, cement_t),
        "electricity_factor": mill_factor,
        "electricity_devices": list(u.unit.cement_electricity_devices),
        "values": "actual; grinding has no direct emissions of its own in this model (no drying fuel metered)",
    }
    return [clinker, cement]
