"""The API's emissions split (pure): per boundary and method, two totals, never location + market."""

from __future__ import annotations

import pandas as pd

from metering.api.queries import by_boundary


def test_by_boundary_keeps_scope2_methods_apart_per_key() -> None:
    rows = pd.DataFrame(
        [
            # device, scope, method, co2 (as InfluxDB groups them; scope 1 has no method tag)
            ("tr-01", "2", "location", 100.0),
            ("tr-01", "2", "market", 120.0),
            ("boiler-1", "1", "", 50.0),
            ("boiler-1", "1", "location", 5.0),  # a stray method on scope 1 does not make it scope 2
            ("kiln-1", "2", "location", 40.0),  # a sub-meter: location rows only
        ],
        columns=["device", "scope", "method", "co2_kg"],
    )
    out = by_boundary(rows, ["device"], ("co2_kg",)).set_index("device")["co2_kg"].to_dict()
    assert out["tr-01"] == {
        "scope1": 0.0,
        "scope2_location": 100.0,
        "scope2_market": 120.0,
        "total_location": 100.0,
        "total_market": 120.0,
    }
    assert out["boiler-1"] == {
        "scope1": 55.0,
        "scope2_location": 0.0,
        "scope2_market": 0.0,
        "total_location": 55.0,
        "total_market": 55.0,
    }
    assert out["kiln-1"]["total_location"] == 40.0 and out["kiln-1"]["total_market"] == 0.0
    (site,) = by_boundary(rows, [], ("co2_kg",))["co2_kg"]
    assert (site["total_location"], site["total_market"]) == (195.0, 175.0)  # never 100 + 120 together
    assert by_boundary(rows.iloc[0:0], ["device"]).empty
