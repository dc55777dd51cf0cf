"""Print how long building and validating the dashboards takes, and how long their queries take on InfluxDB.

    .venv/bin/python bench/dashboards_build.py [--hours 26]

Builds the dashboards of the simulator's `small` plant (19 devices) in English and Chinese,
validates them, then fills a throwaway InfluxDB from simulator history and times `verify`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from dashboards.provision import dashboard_docs
from dashboards.validate import problems
from dashboards.verify import verify
from harness.influxdb import start_influxdb
from plantcarbon_core import schema as sc
from plantcarbon_core.plant import parse_plant
from simulators.history import history_plant_yaml
from simulators.scenario import load_scenario


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=int, default=26)
    args = ap.parse_args()
    plant = parse_plant(history_plant_yaml(load_scenario("small")))
    t0 = time.perf_counter()
    docs = dashboard_docs(plant, ("en", "zh"))
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    bad = [p for d in docs for p in problems(d, {sc.RAW_DS_UID, sc.METERING_DS_UID})]
    t_val = time.perf_counter() - t0
    panels = sum(len(d["panels"]) for d in docs)
    print(f"build: {len(docs)} dashboards, {panels} panels in {t_build * 1000:.0f} ms")
    print(f"validate (SDK round trip, ids, datasources): {t_val * 1000:.0f} ms, {len(bad)} problems")

    from tests.dashboards.simulated import fill_from_simulator

    server = start_influxdb()
    try:
        target = server.fresh_target()
        t0 = time.perf_counter()
        sim = fill_from_simulator(target, datetime.now(UTC), hours=args.hours)
        print(
            f"fill from simulator history ({args.hours} h, ingest, metering, demand): {time.perf_counter() - t0:.1f} s"
        )
        en = dashboard_docs(plant)
        t0 = time.perf_counter()
        checks = verify(en, target, sim.end.to_pydatetime(), plant.site.timezone)
        total = time.perf_counter() - t0
        per = []
        for d in en:
            t1 = time.perf_counter()
            verify([d], target, sim.end.to_pydatetime(), plant.site.timezone)
            per.append((time.perf_counter() - t1, d["uid"]))
        print(
            f"verify: {len(checks)} queries in {total:.1f} s ({total / len(checks) * 1000:.0f} ms per query), "
            f"{sum(1 for c in checks if c.problem)} failing"
        )
        print(
            f"dashboard load (all its queries, serial): median {statistics.median(p for p, _ in per) * 1000:.0f} ms, "
            f"slowest {max(per)[0] * 1000:.0f} ms ({max(per)[1]})"
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
