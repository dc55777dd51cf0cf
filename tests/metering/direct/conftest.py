"""A synthetic clinker-line month shared by the direct-emissions tests (built once per session)."""

from __future__ import annotations

import pytest

from metering.carbon.factor_registry import load_registry
from metering.direct.accounting import Dataset
from metering.direct.config import carbon_config
from metering.direct.lab import parse_lab
from metering.direct.stocks import parse_stocks
from metering.io import read_readings_csv
from plantcarbon_core.plant import load_plant
from tests.metering.direct.case import Case, make_case


@pytest.fixture(scope="session")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return make_case(tmp_path_factory.mktemp("cement"))


def dataset(case: Case) -> Dataset:
    plant = load_plant(case.plant)
    cfg, method = carbon_config(plant)
    return Dataset(
        plant, cfg, method, readings=read_readings_csv(case.readings), lab=parse_lab(case.lab, cfg, method),
        stocks=parse_stocks(case.stocks, cfg), registry=load_registry(),
    )


@pytest.fixture(scope="session")
def ds(case: Case) -> Dataset:
    return dataset(case)
