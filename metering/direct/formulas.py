"""Cement clinker direct-emission formulas as pure functions over columns (tonnes in, tCO2 out).

The method file (methods/cn-cement-clinker-2025.yaml) names each formula's guideline clause;
these functions only do the arithmetic, column by column, so that a day, a month or a year is
the same sum. Inputs are pandas Series (or floats) aligned on the same index.
"""

from __future__ import annotations

from typing import TypeVar

import pandas as pd

C_TO_CO2 = 44.0 / 12.0
CAO_TO_CO2 = 44.0 / 56.0
MGO_TO_CO2 = 44.0 / 40.0

X = TypeVar("X", pd.Series, float)


def fuel_carbon_t(consumed_t: X, ncv_gj_per_t: X, cc_tc_per_gj: X) -> X:
    """Carbon fed with a fuel: consumption × NCV × carbon content per unit heat (tC)."""
    return consumed_t * ncv_gj_per_t * cc_tc_per_gj


def fossil_fuel_co2(consumed_t: X, ncv_gj_per_t: X, cc_tc_per_gj: X, oxidation: X) -> X:
    """FC × NCV × CC × OF × 44/12 (tCO2)."""
    return fuel_carbon_t(consumed_t, ncv_gj_per_t, cc_tc_per_gj) * oxidation * C_TO_CO2


def mixed_fuel_co2(consumed_t: X, ncv_gj_per_t: X, cc_tc_per_gj: X, fossil_fraction: X) -> tuple[X, X]:
    """Alternative fuel: (fossil CO2 counted, biogenic CO2 reported separately), tCO2."""
    co2 = fuel_carbon_t(consumed_t, ncv_gj_per_t, cc_tc_per_gj) * C_TO_CO2
    return co2 * fossil_fraction, co2 * (1.0 - fossil_fraction)


def clinker_process_factor(cao: X, mgo: X, noncarb_cao_per_t_clinker: X, noncarb_mgo_per_t_clinker: X) -> X:
    """tCO2 per tonne of clinker (or of dust) from carbonates: (CaO − CaO_nc) × 44/56 + (MgO − MgO_nc) × 44/40.

    The non-carbonate oxides are per tonne of clinker: the raw meal's fraction × raw meal per
    tonne of clinker.
    """
    return (cao - noncarb_cao_per_t_clinker) * CAO_TO_CO2 + (mgo - noncarb_mgo_per_t_clinker) * MGO_TO_CO2


def process_co2(calcined_t: X, factor_tco2_per_t: X) -> X:
    """(clinker + kiln-head dust + bypass dust) × the clinker's process factor (tCO2)."""
    return calcined_t * factor_tco2_per_t


def raw_meal_toc_co2(raw_meal_t: X, toc: X) -> X:
    """Non-fuel (organic) carbon of the raw meal: raw meal × TOC × 44/12 (tCO2)."""
    return raw_meal_t * toc * C_TO_CO2
