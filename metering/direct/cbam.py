"""CBAM specific embedded emissions per tonne: clinker, and cement with clinker as its precursor.

Built from one unit's accounted days (`figures.UnitResult`) and the location-based CO2 of
its electricity meters; direct and indirect are reported apart (docs/direct-emissions.md).
`cbam_days` gives the parts per local day that measurement `cbam` stores: sums of them over any
range give that range's figures exactly (a per-tonne figure is a ratio of sums, never a sum of
ratios), with the precursor attributed at the range's clinker figures, as `cbam_rows` does.
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
        "see_indirect_tco2_per_t": _per(indirect, cement_t),
        "see_total_tco2_per_t": _per(direct + indirect, cement_t),
        "electricity_factor": mill_factor,
        "electricity_devices": list(u.unit.cement_electricity_devices),
        "values": "actual; grinding has no direct emissions of its own in this model (no drying fuel metered)",
    }
    return [clinker, cement]


DAY_COLUMNS = [
    "day",
    "unit",
    "product",
    "production_t",
    "direct_tco2",
    "indirect_tco2",
    "electricity_mwh",
    "precursor_t",
]


def _elec_day(days: pd.DataFrame, devices: list[str], column: str) -> pd.Series:
    """A per-day sum of some meters' column (0 on days they have no rows)."""
    mine = days[days["device"].isin(devices)] if not days.empty else days
    if mine.empty:
        return pd.Series(dtype=float)
    return mine.groupby("day")[column].sum()


def cbam_days(u: UnitResult, elec_days: pd.DataFrame) -> pd.DataFrame:
    """Per local day, the unit's own CBAM parts: clinker (its direct CO2, its line's electricity) and
    cement (the mill's electricity; no direct emissions of its own here) with the clinker it used
    as `precursor_t`. The cement's embedded emissions add the precursor at the clinker's figures
    over the range read (`precursor_t` × clinker per tonne), not per day."""
    idx = u.days.index

    def elec(devices: list[str], column: str, scale: float = 1.0) -> pd.Series:
        return _elec_day(elec_days, devices, column).reindex(idx).fillna(0.0) * scale

    frames = [
        pd.DataFrame(
            {
                "day": idx,
                "unit": u.unit.id,
                "product": "clinker",
                "production_t": u.days["clinker_t"].to_numpy(dtype=float),
                "direct_tco2": u.direct_per_day().to_numpy(dtype=float),
                "indirect_tco2": elec(u.unit.electricity_devices, "co2_t").to_numpy(),
                "electricity_mwh": elec(u.unit.electricity_devices, "kwh", 1 / 1000).to_numpy(),
                "precursor_t": 0.0,
            }
        )
    ]
    if u.unit.cement and "cement_t" in u.days:
        frames.append(
            pd.DataFrame(
                {
                    "day": idx,
                    "unit": u.unit.id,
                    "product": "cement",
                    "production_t": u.days["cement_t"].to_numpy(dtype=float),
                    "direct_tco2": 0.0,
                    "indirect_tco2": elec(u.unit.cement_electricity_devices, "co2_t").to_numpy(),
                    "electricity_mwh": elec(u.unit.cement_electricity_devices, "kwh", 1 / 1000).to_numpy(),
                    "precursor_t": u.days["cement_clinker_t"].to_numpy(dtype=float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).reindex(columns=DAY_COLUMNS)
