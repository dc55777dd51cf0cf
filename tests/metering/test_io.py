"""Metering rows to line protocol: tags escaped, absent values left out, a chosen subset of fields.

Floats are written in Python's shortest round-trip form (`3.0`, where influxdb-client writes
`3`; InfluxDB reads both as the same float field).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from influxdb_client import Point, WritePrecision

from metering.io import emission_lines, energy_lines

T = pd.Timestamp("2023-06-01T00:15:00Z")
MS = 1685578500000


def _energy() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site": ["plant a", "plant a"],
            "area": ["kiln,line=2", "utilities"],
            "device": ["kiln-1", "boiler-1"],
            "carrier": ["electricity", "natural_gas"],
            "role": ["sub", "main"],
            "tou": ["peak", ""],
            "interval_start": [T, T],
            "amount": [12.5, 3.0],
            "unit": ["kWh", "Nm3"],
            "status": ["measured", ""],
            "completeness": [0.75, np.nan],
            "tce_kg": [1.53625, np.nan],
            "cost": [np.nan, 9.75],
        }
    )


def test_energy_lines_match_the_client_library_and_leave_out_absent_values() -> None:
    lines = energy_lines(_energy())
    # The same points as influxdb-client's own Point serializer makes (tags sorted, escaped).
    kiln = (
        Point("energy")
        .tag("area", "kiln,line=2")
        .tag("carrier", "electricity")
        .tag("device", "kiln-1")
        .tag("role", "sub")
        .tag("site", "plant a")
        .tag("tou", "peak")
        .field("amount", 12.5)
        .field("completeness", 0.75)
        .field("status", "measured")
        .field("tce_kg", 1.53625)
        .field("unit", "kWh")
        .time(MS, WritePrecision.MS)
    )
    assert lines[0] == kiln.to_line_protocol()
    # No tou tag (empty), no status (empty), no completeness and tce_kg (NaN); cost present.
    assert lines[1] == (
        "energy,area=utilities,carrier=natural_gas,device=boiler-1,role=main,site=plant\\ a "
        f'amount=3.0,cost=9.75,unit="Nm3" {MS}'
    )


def test_energy_lines_with_chosen_fields_skip_rows_without_a_value() -> None:
    lines = energy_lines(_energy(), fields=("tce_kg",))
    # The boiler has no tce_kg: no point at all rather than a point without fields.
    assert lines == [
        f"energy,area=kiln\\,line\\=2,carrier=electricity,device=kiln-1,role=sub,site=plant\\ a,tou=peak tce_kg=1.53625 {MS}"
    ]


def test_emission_lines_quote_and_escape_strings() -> None:
    em = pd.DataFrame(
        {
            "site": ["s"],
            "area": ["a"],
            "device": ["d"],
            "carrier": ["electricity"],
            "role": ["main"],
            "scope": ["2"],
            "method": ["location"],
            "interval_start": [T],
            "co2_kg": [5.5],
            "co2e_kg": [5.5],
            "factor": ['my "factor"@1'],
            "gwp": ["AR6"],
        }
    )
    assert emission_lines(em) == [
        "emissions,area=a,carrier=electricity,device=d,method=location,role=main,scope=2,site=s "
        f'co2_kg=5.5,co2e_kg=5.5,factor="my \\"factor\\"@1",gwp="AR6" {MS}'
    ]
