"""API-test fixtures: an app on real InfluxDB buckets seeded per the design schema, and one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from metering.api.app import create_app
from metering.api.settings import ApiSettings
from metering.dr.store import EventStore
from metering.state.store import ROLES, Store
from plantcarbon_core.influx import InfluxTarget, line, write_lines
from plantcarbon_core.plant import Plant, load_plant

PLANT = Path(__file__).resolve().parents[3] / "examples" / "plant-a.yaml"
SH = ZoneInfo("Asia/Shanghai")
# Seeded data: 2026-03-02 00:00 .. 02:00 Shanghai time, 8 intervals of 15 min.
DAY0 = datetime(2026, 3, 2, tzinfo=SH)


def seed_lines(now: datetime) -> tuple[list[str], list[str]]:
    """Rows per docs/design.md: energy, emissions, demand, dr in `metering`; electricity p_kw in `raw`."""
    metering: list[str] = []
    for i in range(8):
        ts = int((DAY0 + timedelta(minutes=15 * i)).timestamp() * 1000)
        tou = "valley" if i < 4 else "flat"
        # tr-01 (main): 1000 kWh per interval at 0.30 CNY/kWh; kiln-1 (sub of tr-01): 400 kWh; boiler-1 gas main.
        for dev, area, carrier, role, amount, unit, cost in (
            ("tr-01", "substation", "electricity", "main", 1000.0, "kWh", 300.0),
            ("kiln-1", "kiln", "electricity", "sub", 400.0, "kWh", 120.0),
            ("boiler-1", "utilities", "natural_gas", "main", 50.0, "Nm3", 175.0),
        ):
            # tce: electricity 0.1229 kgce/kWh (GB/T 2589-2020, equivalent value); gas 1.2143 kgce/Nm3 (GB/T 2589-2020 table A.1 average).
            tce = amount * (0.1229 if carrier == "electricity" else 1.2143)
            tags = {"site": "plant-a", "area": area, "device": dev, "carrier": carrier, "role": role, "tou": tou}
            metering.append(line("energy", tags, {"amount": amount, "unit": unit, "tce_kg": tce, "cost": cost}, ts))
            # CO2: a fixed 0.5 kg/kWh and 2.0 kg/Nm3 here: the API sums what metering stored, whatever the factor.
            co2 = amount * (0.5 if carrier == "electricity" else 2.0)
            scope = "2" if carrier == "electricity" else "1"
            etags = {
                "site": "plant-a",
                "area": area,
                "device": dev,
                "carrier": carrier,
                "scope": scope,
                "method": "location",
            }
            metering.append(line("emissions", etags, {"co2_kg": co2, "co2e_kg": co2 * 1.01, "factor": "test@1"}, ts))
        metering.append(
            line(
                "demand",
                {"site": "plant-a", "device": "tr-01"},
                {"demand_kw": 3800.0 + 50 * i, "forecast_kw": 3900.0 + 50 * i, "limit_kw": 4000.0},
                ts,
            )
        )
        metering.append(
            line(
                "dr",
                {"site": "plant-a", "event": "dr-0302"},
                {
                    "baseline_kw": 4000.0,
                    "actual_kw": 3400.0,
                    "reduction_kw": 600.0,
                    "requested_kw": 500.0,
                    "on_track": True,
                },
                ts,
            )
        )
    now_ms = int(now.timestamp() * 1000)
    metering.append(
        line(
            "demand",
            {"site": "plant-a", "device": "tr-01"},
            {"demand_kw": 3650.0, "forecast_kw": 3720.0, "limit_kw": 4000.0},
            now_ms - 5000,
        )
    )
    raw = [
        line(
            "electricity",
            {"site": "plant-a", "area": "substation", "device": "tr-01", "kind": "transformer", "edge": "e1"},
            {"p_kw": 3612.5},
            now_ms - 2000,
        ),
        line(
            "electricity",
            {"site": "plant-a", "area": "kiln", "device": "kiln-1", "kind": "kiln", "edge": "e1"},
            {"p_kw": 1500.0},
            now_ms - 2000,
        ),
    ]
    return metering, raw


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    store: Store
    keys: dict[str, str]
    plant: Plant
    influx: InfluxTarget
    dr: EventStore
    data_dir: Path

    def as_(self, role: str | None) -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def seeded_influx(influx_target: InfluxTarget) -> InfluxTarget:
    metering, raw = seed_lines(datetime.now(UTC))
    write_lines(influx_target, influx_target.metering_bucket, metering)
    write_lines(influx_target, influx_target.raw_bucket, raw)
    return influx_target


@pytest.fixture
def api(seeded_influx: InfluxTarget, tmp_path: Path) -> Iterator[Api]:
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    keys = {role: store.create_key(f"{role.replace('_', '-')}-key", role) for role in ROLES}
    plant = load_plant(PLANT)
    settings = ApiSettings(env="development", data_dir=tmp_path / "data")
    dr = EventStore(tmp_path / "dr.sqlite")
    app = create_app(settings, store=store, plant=plant, influx=seeded_influx, dr_store=dr, start_alerts=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(app, client, store, keys, plant, seeded_influx, dr, tmp_path / "data")
    store.close()
