"""Worked cases of the clinker formulas, checked by hand.

Source of the formulas: metering/direct/methods/cn-cement-clinker-2025.yaml (sources[].formula),
the structure of 《中国水泥生产企业温室气体排放核算方法与报告指南(试行)》(2013) as the issue
restates it; the 2024/2025 guideline's own worked examples could not be read, so each case
below is hand-computed and its arithmetic written out in the docstring.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from metering.direct import formulas as fx
from metering.direct.method import load_method


def test_fossil_fuel_worked_case() -> None:
    """100 t coal × 23 GJ/t = 2300 GJ; × 0.0255 tC/GJ = 58.65 tC; × 1.0 × 44/12 = 215.05 tCO2."""
    assert fx.fossil_fuel_co2(100.0, 23.0, 0.0255, 1.0) == pytest.approx(215.05, rel=1e-12)


def test_fossil_fuel_with_oxidation_factor() -> None:
    """Same coal with OF 0.98: 58.65 tC × 0.98 = 57.477 tC; × 44/12 = 210.749 tCO2."""
    assert fx.fossil_fuel_co2(100.0, 23.0, 0.0255, 0.98) == pytest.approx(210.749, rel=1e-12)


def test_alternative_fuel_splits_fossil_and_biogenic() -> None:
    """10 t tyre chips × 28 GJ/t × 0.022 tC/GJ = 6.16 tC = 22.586667 tCO2; 60 % fossil: 13.552 counted, 9.034667 memo."""
    fossil, bio = fx.mixed_fuel_co2(10.0, 28.0, 0.022, 0.6)
    assert fossil == pytest.approx(13.552, rel=1e-12)
    assert bio == pytest.approx(9.0346666667, rel=1e-9)
    assert fossil + bio == pytest.approx(6.16 * 44 / 12, rel=1e-12)


def test_clinker_oxide_method_with_dust() -> None:
    """Clinker 1000 t + kiln-head dust 4 t + bypass dust 6 t; CaO 0.65, MgO 0.02; raw meal non-carbonate
    CaO 0.01 and MgO 0.005 at 1.55 t raw meal per t clinker (0.0155 and 0.00775 per t clinker):
    (0.65 − 0.0155) × 44/56 = 0.498535714; (0.02 − 0.00775) × 44/40 = 0.013475; factor 0.512010714 tCO2/t;
    × 1010 t = 517.13082 tCO2."""
    factor = fx.clinker_process_factor(0.65, 0.02, 0.01 * 1.55, 0.005 * 1.55)
    assert factor == pytest.approx(0.512010714, rel=1e-9)
    assert fx.process_co2(1000.0 + 4.0 + 6.0, factor) == pytest.approx(517.13082, rel=1e-7)


def test_each_oxide_has_its_own_ratio() -> None:
    """Pure CaO: 1 t → 44/56 t CO2 (CaCO3 → CaO + CO2); pure MgO: 1 t → 44/40 t (MgCO3 → MgO + CO2)."""
    assert fx.clinker_process_factor(1.0, 0.0, 0.0, 0.0) == pytest.approx(44 / 56)
    assert fx.clinker_process_factor(0.0, 1.0, 0.0, 0.0) == pytest.approx(1.1)


def test_raw_meal_non_fuel_carbon() -> None:
    """1550 t raw meal × 0.2 % TOC = 3.1 tC × 44/12 = 11.366667 tCO2."""
    assert fx.raw_meal_toc_co2(1550.0, 0.002) == pytest.approx(11.3666667, rel=1e-8)


def test_formulas_work_on_columns() -> None:
    fc = pd.Series([10.0, 20.0])
    out = fx.fossil_fuel_co2(fc, pd.Series([23.0, 23.0]), pd.Series([0.0255, 0.0255]), pd.Series([1.0, 1.0]))
    assert out.tolist() == pytest.approx([21.505, 43.01])


def test_method_constants_match_the_formulas() -> None:
    m = load_method("cn-cement-clinker-2025")
    assert m.const("co2_per_c") == pytest.approx(fx.C_TO_CO2)
    assert m.const("co2_per_cao") == pytest.approx(fx.CAO_TO_CO2)
    assert m.const("co2_per_mgo") == pytest.approx(fx.MGO_TO_CO2)


def test_method_file_says_what_is_unconfirmed() -> None:
    """Every default and clause not checked against the guideline's own text is marked so."""
    m = load_method("cn-cement-clinker-2025")
    assert all(not s.clause.confirmed for s in m.sources)
    for kind in m.materials.values():
        for p in kind.parameters.values():
            assert p.must_measure or p.default is not None
            if p.default is not None:
                assert p.default.source
                assert p.range[0] <= p.default.value <= p.range[1]
    assert m.benchmark is None or math.isfinite(m.benchmark.value)
