"""Metering test helpers: a small plant and synthetic counters with exactly known deltas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plantcarbon_core.plant import Plant, parse_plant

PLANT_YAML = """
site: {id: plant-t, name: "Test plant", timezone: Asia/Shanghai, grid_region: cn-east}
metering: {gwp_set: AR6}
devices:
  - {id: main-1, name: Main, kind: transformer, carrier: electricity, role: main, area: substation, rated_kw: 2000}
  - {id: kiln-1, name: Kiln, kind: kiln, carrier: electricity, role: sub, parent: main-1, area: kiln}
  - {id: fan-1, name: Fan, kind: fan, carrier: electricity, role: sub, parent: main-1, area: kiln}
  - {id: pv-1, name: PV, kind: pv, carrier: electricity, role: sub, parent: main-1, area: roof}
  - {id: boiler-1, name: Boiler, kind: boiler, carrier: natural_gas, area: utilities, fuel: natural_gas}
  - {id: gen-1, name: Diesel generator, kind: other, carrier: diesel, area: utilities}
  - {id: steam-1, name: Steam header, kind: steam_header, carrier: steam, area: utilities,
     steam: {pressure_mpa: 1.0, temperature_c: 200, return_temp_c: 20}}
virtual_meters:
  - {id: pv-self, name: PV self-consumption, formula: "pv-1 - 0.5*kiln-1"}
"""


@pytest.fixture
def plant() -> Plant:
    return parse_plant(PLANT_YAML)


def counter(
    device: str,
    quantity: str,
    start: str,
    minutes: int,
    rate_per_min: float,
    first: float = 1000.0,
    step_min: float = 1.0,
) -> pd.DataFrame:
    """A counter sampled every `step_min` minutes that grows exactly `rate_per_min` per minute."""
    n = int(minutes / step_min) + 1
    t = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(n) * step_min, unit="min")
    v = first + np.arange(n) * step_min * rate_per_min
    return pd.DataFrame({"time": t, "device": device, "quantity": quantity, "value": v})


def east_grid_2023(version: str, value: float) -> str:
    """A user factor file re-publishing the 2023 East China grid factor as `cn-grid-east@<version>`.

    The same version replaces the shipped factor; a new one wins for its validity
    (the override rule, docs/metering.md §3).
    """
    return f"""\
set: east-grid-{version}
defaults: {{carrier: electricity, unit: tCO2/MWh, gas: CO2, method: location}}
factors:
  - id: cn-grid-east
    version: "{version}"
    name: East China grid 2023 ({version})
    kind: grid-average
    region: cn-east
    value: {value}
    valid_from: 2023-01-01
    valid_to: 2023-12-31
    source: {{document: "test file", table: "n/a"}}
"""
