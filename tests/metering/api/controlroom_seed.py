"""Today's metered intervals for plant-a, as the metering service writes them: a main meter, a sub-meter,
the main meter's unmetered remainder and a gas boiler, with scope 1 and both scope 2 methods."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from plantcarbon_core.influx import InfluxTarget, line, write_lines

INTERVALS = 4
# (device, area, carrier, role, kWh or Nm3 per interval, tce kg, cost, [(scope, method, kg CO2)])
# tce: electricity 0.1229 kgce/kWh, natural gas 1.2143 kgce/Nm3 (GB/T 2589-2020, as in conftest.py);
# CO2 factors are arbitrary here: the API adds what metering stored, per boundary.
ROWS = [
    ("tr-01", "substation", "electricity", "main", 1000.0, 122.9, 300.0, [("2", "location", 500.0), ("2", "market", 300.0)]),
    ("kiln-1", "kiln", "electricity", "sub", 400.0, 49.16, 120.0, [("2", "location", 200.0)]),
    ("tr-01:unmetered", "substation", "electricity", "unmetered", 600.0, 73.74, 180.0, [("2", "location", 300.0)]),
    ("boiler-1", "utilities", "natural_gas", "main", 50.0, 60.715, 175.0, [("1", "", 100.0)]),
]  # fmt: skip


def today_times(now: datetime, tz: str = "Asia/Shanghai") -> list[int]:
    """INTERVALS timestamps (ms) inside the site's today whatever the wall clock: spread between midnight and now."""
    midnight = now.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    return [int((midnight + (now - midnight) * (INTERVALS + 1 - i) / (INTERVALS + 1)).timestamp() * 1000)
            for i in range(1, INTERVALS + 1)]  # fmt: skip


def seed_today(target: InfluxTarget, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    lines = []
    for ts in today_times(now):
        for dev, area, carrier, role, amount, tce, cost, co2 in ROWS:
            tags = {"site": "plant-a", "area": area, "device": dev, "carrier": carrier, "role": role, "tou": "peak"}
            fields = {"amount": amount, "unit": "kWh", "tce_kg": tce, "cost": cost, "completeness": 1.0}
            lines.append(line("energy", tags, fields, ts))
            for scope, method, kg in co2:
                etags = {
                    "site": "plant-a",
                    "area": area,
                    "device": dev,
                    "carrier": carrier,
                    "role": role,
                    "scope": scope,
                }
                if method:
                    etags["method"] = method
                lines.append(line("emissions", etags, {"co2_kg": kg, "co2e_kg": kg * 1.01, "factor": "test@1"}, ts))
    write_lines(target, target.metering_bucket, lines)
