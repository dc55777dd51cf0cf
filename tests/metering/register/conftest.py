"""A small clinker line's plant file (main meter, sub-meters, weighers, gas) for the register tests."""

from __future__ import annotations

import pytest

from plantcarbon_core.plant import Plant, parse_plant

PLANT = """
site: {id: line-a, name: Line A, timezone: Asia/Shanghai}
devices:
  - {id: tr-kiln, name: Kiln transformer, kind: transformer, carrier: electricity, role: main, rated_kw: 20000,
     source: {protocol: modbus-tcp, host: 127.0.0.1, port: 5020, unit: 1, profile: chint-dtsu666}}
  - {id: kiln-drive, name: Kiln drive, kind: kiln, carrier: electricity, role: sub, parent: tr-kiln,
     source: {protocol: modbus-tcp, host: 127.0.0.1, port: 5020, unit: 2, profile: schneider-pm5000}}
  - {id: coal-kiln, name: Kiln coal feeder, kind: feeder, carrier: coal, area: kiln,
     source: {protocol: modbus-tcp, host: 127.0.0.1, port: 5020, unit: 3, profile: siemens-milltronics-bw500}}
  - {id: cl-weigher, name: Clinker belt weigher, kind: feeder, carrier: production, area: kiln,
     source: {protocol: modbus-tcp, host: 127.0.0.1, port: 5020, unit: 4, profile: siemens-milltronics-bw500}}
  - {id: gas-boiler, name: Gas boiler, kind: boiler, carrier: natural_gas, area: utilities,
     source: {protocol: modbus-tcp, host: 127.0.0.1, port: 5020, unit: 5, profile: fx-gas-corrector}}
  - {id: kiln-group, name: Kiln group (no meter), kind: other, carrier: electricity, role: sub, parent: tr-kiln}
carbon:
  materials:
    coal: {kind: fossil_fuel, devices: [coal-kiln]}
    petcoke: {kind: fossil_fuel, activity: stock}
    clinker: {kind: clinker, devices: [cl-weigher]}
    kiln-dust: {kind: dust}
  units:
    - {id: kiln-1, name: Clinker line 1, clinker: clinker, fuels: [coal, petcoke], dust: [kiln-dust],
       electricity_devices: [tr-kiln]}
"""


@pytest.fixture
def plant() -> Plant:
    return parse_plant(PLANT, "line-a.yaml")
