"""The control room's endpoints on real InfluxDB: totals per boundary never summed, breakdowns, flows, one device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from metering.api import controlroom_queries as cq
from plantcarbon_core.plant import load_plant
from tests.metering.api.conftest import PLANT, Api
from tests.metering.api.controlroom_seed import INTERVALS, seed_today


@pytest.mark.integration
def test_live_gives_co2_per_boundary_and_never_their_sum(api: Api) -> None:
    seed_today(api.influx)
    r = api.client.get("/api/v1/controlroom/live", headers=api.as_("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    today = body["today"]
    # Site totals count main meters only: tr-01 (electricity) and boiler-1 (gas), 4 intervals each.
    assert today["co2_kg"] == {"direct": 400.0, "scope2_location": 2000.0, "scope2_market": 1200.0}
    assert "scope2_location" in today["co2_method"] and "sum" not in str(today["co2_kg"])
    assert today["electricity_kwh"] == 4000.0
    assert today["tce_kg"] == pytest.approx(INTERVALS * (122.9 + 60.715))
    assert today["cost"] == pytest.approx(INTERVALS * (300.0 + 175.0))
    assert today["carriers"]["natural_gas"] == {"amount": 200.0, "unit": "Nm3"}
    # Live power from the raw rows the fixture wrote a moment ago (tr-01 3,612.5 kW is the only main meter).
    assert body["power"]["kw"] == pytest.approx(3612.5)
    assert body["demand"]["limit_kw"] == 4000.0 and body["demand"]["prealarm_kw"] == pytest.approx(3800.0)
    health = body["health"]
    assert health["total"] == 4  # tr-01, kiln-1, pv-01, boiler-1 have a meter; steam-1 has none
    offline = {r["device"] for r in health["not_fine"] if r["state"] == "offline"}
    assert {"pv-01", "boiler-1"} <= offline and "tr-01" not in offline
    c = body["completeness"]
    assert c["devices"] == 4
    assert c["metered"] == pytest.approx(3 * min(INTERVALS, c["intervals"]))  # tr-01, kiln-1, boiler-1


@pytest.mark.integration
def test_breakdown_by_area_kind_top_consumers_and_sankey(api: Api) -> None:
    seed_today(api.influx)
    r = api.client.get("/api/v1/controlroom/breakdown", headers=api.as_("viewer"))
    assert r.status_code == 200, r.text
    b = r.json()
    area = {x["key"]: x for x in b["today"]["area"]}
    # Leaves partition the site: kiln-1, tr-01's unmetered remainder, boiler-1 (tr-01 itself is not a leaf).
    assert area["kiln"]["kwh"] == 1600.0 and area["substation"]["kwh"] == 2400.0
    assert area["utilities"]["direct"] == 400.0 and area["utilities"]["scope2_location"] is None
    kind = {x["key"]: x for x in b["today"]["kind"]}
    assert set(kind) == {"kiln", "unmetered", "boiler"}
    assert [t["device"] for t in b["today"]["top"]] == ["boiler-1", "kiln-1"]
    links = {(x["source"], x["target"]): x["value"] for x in b["sankey"]["links"]}
    assert links == {("tr-01", "kiln-1"): 1600.0, ("tr-01", "tr-01:unmetered"): 2400.0}
    # The month so far includes today.
    assert b["month"]["totals"]["co2_kg"]["scope2_market"] >= 1200.0
    assert b["intensity"]["today"]["value"] is None  # plant-a has no production meter


@pytest.mark.integration
def test_device_page_and_unknown_device(api: Api) -> None:
    seed_today(api.influx)
    r = api.client.get("/api/v1/controlroom/devices/kiln-1", headers=api.as_("viewer"))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["device"]["parent"] == "tr-01" and d["meter"]["protocol"] == "modbus-rtu"
    assert d["values"]["p_kw"] == 1500.0 and d["series"]["p_kw"][-1][1] == 1500.0
    assert d["today"]["amount"] == 1600.0 and d["today"]["co2_kg"]["scope2_location"] == 800.0
    assert d["today"]["co2_kg"]["scope2_market"] is None
    assert api.client.get("/api/v1/controlroom/devices/nope", headers=api.as_("viewer")).status_code == 404


def test_health_states_follow_the_poll_interval_and_the_edge_status() -> None:
    plant = load_plant(PLANT)
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    seen = {"tr-01": now - timedelta(seconds=5), "kiln-1": now - timedelta(seconds=120), "pv-01": now}
    status = pd.DataFrame(
        [{"time": now - timedelta(seconds=60), "device": "pv-01", "online": True, "error": "illegal data value"}]
    )
    h = cq.health(plant, seen, status, now, cq.HealthRules())
    states = {r["device"]: r["state"] for r in h["not_fine"]}
    # tr-01 polls every 1 s: 5 s is fine; kiln-1 (5 s) missed 24 polls: stale; boiler-1 never seen: offline.
    assert states == {"kiln-1": "stale", "pv-01": "bad", "boiler-1": "offline"}
    assert h["counts"] == {"online": 1, "stale": 1, "offline": 1, "bad": 1}
    assert [r["state"] for r in h["not_fine"]] == ["offline", "bad", "stale"] and h["not_fine_more"] == 0
    kiln = next(r for r in h["not_fine"] if r["device"] == "kiln-1")
    assert kiln["since"] == (now - timedelta(seconds=120)).isoformat()


def test_sankey_groups_small_children_so_it_stays_readable() -> None:
    plant = load_plant(PLANT)
    dev = pd.DataFrame({"device": ["tr-01", "kiln-1", "pv-01"], "kwh": [100.0, 60.0, 0.0]})
    s = cq.sankey(plant, dev)
    assert s["links"] == [{"source": "tr-01", "target": "kiln-1", "value": 60.0}]
    assert {n["name"] for n in s["nodes"]} == {"tr-01", "kiln-1"}


def test_a_day_with_nothing_metered_yet_gives_empty_panels_not_an_error() -> None:
    plant = load_plant(PLANT)
    dev = cq.per_device(plant, pd.DataFrame(), pd.DataFrame())
    assert cq.breakdown(plant, dev, "area") == [] and cq.top_consumers(plant, dev) == []
    assert cq.sankey(plant, dev)["links"] == []
    assert cq.totals(pd.DataFrame(), pd.DataFrame())["co2_kg"] == dict.fromkeys(cq.BOUNDARIES)


def test_top_consumers_leave_out_generators_and_unmetered_remainders() -> None:
    plant = load_plant(PLANT)
    energy = pd.DataFrame(
        {
            "device": ["pv-01", "kiln-1", "tr-01:unmetered", "boiler-1"],
            "carrier": ["electricity", "electricity", "electricity", "natural_gas"],
            "role": ["sub", "sub", "unmetered", "main"],
            "amount": [900.0, 400.0, 5000.0, 50.0],
            "tce_kg": [110.6, 49.2, 614.5, 60.7],
            "cost": [0.0, 120.0, 1500.0, 175.0],
        }
    )
    top = cq.top_consumers(plant, cq.per_device(plant, energy, pd.DataFrame()))
    assert [t["device"] for t in top] == ["boiler-1", "kiln-1"]


def test_two_thousand_devices_keep_the_panels_readable() -> None:
    from plantcarbon_core.plant import parse_plant

    src = "source: {protocol: modbus-tcp, host: 127.0.0.1, port: 5020, unit: 1, profile: eastron-sdm630}"
    text = "\n".join(
        [
            "site: {id: big, name: Big, timezone: Asia/Shanghai}",
            "devices:",
            f"  - {{id: main, name: Main, kind: transformer, carrier: electricity, role: main, {src}}}",
            *(
                f"  - {{id: m{i}, name: M{i}, kind: motor, carrier: electricity, role: sub, parent: main, "
                f"area: a{i % 7}, source: {{protocol: modbus-tcp, host: 127.0.0.1, port: {5021 + i // 200}, unit: {1 + i % 200}, "
                f"profile: eastron-sdm630}}}}"
                for i in range(1999)
            ),
        ]
    )
    plant = parse_plant(text, "big.yaml")
    h = cq.health(plant, {}, pd.DataFrame(), datetime(2026, 3, 2, tzinfo=UTC), cq.HealthRules())
    assert h["counts"]["offline"] == 2000 and len(h["not_fine"]) == cq.NOT_FINE_SHOWN
    assert h["not_fine_more"] == 2000 - cq.NOT_FINE_SHOWN
    dev = pd.DataFrame({"device": ["main", *(f"m{i}" for i in range(1999))], "kwh": [5000.0, *([2.0] * 1999)]})
    s = cq.sankey(plant, dev)
    assert len(s["nodes"]) == 1 + cq.SANKEY_CHILDREN + 1  # main, its 8 largest, "1991 more"
    assert sum(x["value"] for x in s["links"]) == pytest.approx(2.0 * 1999)
