"""A simulated month of one clinker line (simulators/kiln.py) written as the files an auditor receives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from simulators.kiln import LAB_COLUMNS, PLANT, KilnLine, simulate, write_files

LAB_HEADER = ",".join(LAB_COLUMNS)
__all__ = ["LAB_HEADER", "PLANT", "Case", "make_case"]


@dataclass
class Case:
    dir: Path
    plant: Path
    readings: Path
    lab: Path
    stocks: Path
    line: KilnLine

    @property
    def days(self) -> list[dt.date]:
        return self.line.days

    @property
    def coal_stock_t(self) -> float:
        r = self.line.stock_rows[0]
        return float(str(r["opening_t"])) + float(str(r["receipts_t"])) - float(str(r["closing_t"]))

    def truth(self, days: list[dt.date] | None = None) -> dict[str, float]:
        return self.line.truth(days)


def make_case(root: Path, month: str = "2026-01", seed: int = 7, stock_bias: float = 0.005) -> Case:
    p = pd.Period(month, freq="M")
    line = simulate(p.start_time.date(), p.end_time.date(), seed=seed, stock_bias=stock_bias)
    paths = write_files(line, root)
    return Case(root, paths["plant.yaml"], paths["readings.csv"], paths["lab.csv"], paths["stocks.csv"], line)
