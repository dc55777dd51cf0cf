"""What one direct-emissions computation reads and gives: dataset, parameters, per-unit results, accounts.

`accounting.account` fills them; the report, the InfluxDB writer, CBAM rows and the CLI read
them (`Accounts.gbt32150` is the organisational boundary view: scope 1 and scope 2, never added
across location and market).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from metering.carbon.factor_registry import Registry
from metering.direct.config import CarbonConfig, EmissionUnit
from metering.direct.lab import LabBook, empty_book
from metering.direct.method import Method
from plantcarbon_core.plant import Plant


@dataclass
class Dataset:
    """Everything one computation reads: the plant's carbon block, readings, lab book, stock balances."""

    plant: Plant
    cfg: CarbonConfig
    method: Method
    readings: pd.DataFrame | None = None
    lab: LabBook = field(default_factory=empty_book)
    stocks: pd.DataFrame | None = None
    registry: Registry | None = None
    green: list[Any] = field(default_factory=list)


@dataclass
class Param:
    """One input parameter of a figure: value, unit, basis and where it came from."""

    unit_id: str
    material: str
    name: str
    value: float
    unit: str
    basis: str  # measured | default | calculated | stock | mixed (some days default/unmetered) | missing
    provenance: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit_id,
            "material": self.material,
            "parameter": self.name,
            "value": None if not np.isfinite(self.value) else self.value,
            "value_unit": self.unit,
            "basis": self.basis,
            "provenance": self.provenance,
        }


@dataclass
class UnitResult:
    unit: EmissionUnit
    days: pd.DataFrame  # one row per local day: activity, parameters, CO2 per source
    params: list[Param]
    fuels: list[dict[str, Any]]  # per fuel: material, kind, consumed_t, co2_t (counted), biogenic_t
    missing: list[str]
    reconciliation: list[dict[str, Any]]

    def total(self, column: str) -> float:
        return float(self.days[column].sum()) if column in self.days else 0.0

    @property
    def clinker_t(self) -> float:
        return self.total("clinker_t")

    @property
    def fuel_co2_t(self) -> float:
        return float(sum(f["co2_t"] for f in self.fuels))

    @property
    def process_co2_t(self) -> float:
        return self.total("process_clinker_co2_t") + self.total("process_dust_co2_t") + self.total("process_toc_co2_t")

    @property
    def direct_co2_t(self) -> float:
        return self.fuel_co2_t + self.process_co2_t

    def direct_per_day(self) -> pd.Series:
        """Each day's direct CO2 (fuel + process), t; a missing part adds nothing (the day is then incomplete)."""
        d = self.days
        cols = [f"fuel_{f['material']}_co2_t" for f in self.fuels]
        cols += ["process_clinker_co2_t", "process_dust_co2_t", "process_toc_co2_t"]
        return d.reindex(columns=cols).sum(axis=1, min_count=0)

    @property
    def biogenic_co2_t(self) -> float:
        return float(sum(f["biogenic_t"] for f in self.fuels))

    @property
    def intensity(self) -> float:
        return self.direct_co2_t / self.clinker_t if self.clinker_t > 0 else float("nan")


@dataclass
class Accounts:
    """The three boundaries of one period, from one dataset."""

    start: dt.date
    end: dt.date  # inclusive
    method: str
    units: list[UnitResult]
    other_scope1: list[dict[str, Any]]
    scope2: dict[str, dict[str, Any]]  # method (location|market) → {tco2, factors}
    cbam: list[dict[str, Any]]
    warnings: list[str]
    # CBAM parts per unit, product and local day (`cbam.cbam_days`): what measurement `cbam` stores.
    cbam_days: pd.DataFrame = field(default_factory=pd.DataFrame)

    def gbt32150(self) -> dict[str, Any]:
        s1_rows = (
            [
                {"item": f"{u.unit.id} fuel combustion (fossil)", "tco2": u.fuel_co2_t, "source": "direct emissions"}
                for u in self.units
            ]
            + [
                {"item": f"{u.unit.id} industrial process", "tco2": u.process_co2_t, "source": "direct emissions"}
                for u in self.units
            ]
            + self.other_scope1
        )
        s1 = float(sum(r["tco2"] for r in s1_rows))
        totals = [
            {"label": f"scope 1 + scope 2 ({m}-based)", "method": m, "tco2": s1 + v["tco2"]}
            for m, v in self.scope2.items()
        ]
        return {
            "boundary": "GB/T 32150-2015 organisational (scope 1, scope 2)",
            "scope1": {"rows": s1_rows, "tco2": s1},
            "scope2": [{"method": m, **v} for m, v in self.scope2.items()],
            "totals": totals,
            "memo_biogenic_tco2": float(sum(u.biogenic_co2_t for u in self.units)),
        }
