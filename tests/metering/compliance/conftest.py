"""The simulated kiln line's January 2026 (simulators/kiln.py) for the filing-workflow tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.metering.direct.case import Case, make_case

MONTH = "2026-01"
GAP_DAYS = ("20260105", "20260106")  # the clinker CaO of these days never came from the lab


@pytest.fixture(scope="session")
def month_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return make_case(tmp_path_factory.mktemp("month"), MONTH)


def lab_without(case: Case, out: Path, prefix: str) -> Path:
    """The case's lab file without the rows whose sample id and parameter start with `prefix` lines."""
    lines = case.lab.read_text("utf-8").splitlines()
    out.write_text("\n".join(line for line in lines if not line.startswith(prefix)) + "\n", "utf-8")
    return out


def gap_lab(case: Case, out: Path) -> Path:
    """The lab file with the clinker CaO of GAP_DAYS missing (their MgO stays)."""
    lines = case.lab.read_text("utf-8").splitlines()
    drop = tuple(f"CL-{d},1,clinker,cao," for d in GAP_DAYS)
    out.write_text("\n".join(line for line in lines if not line.startswith(drop)) + "\n", "utf-8")
    return out
