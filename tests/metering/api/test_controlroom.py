"""The control room's endpoints on real InfluxDB: totals per boundary never summed, breakdowns, flows, one device."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from harness.mosquitto import Mosquitto
from metering.alerts.service import AlertService
from metering.api import controlroom_cache as cc
from metering.api import controlroom_queries as cq
from metering.api.app import create_app
from metering.api.settings import ApiSettings
from metering.dr.store import EventStore
from metering.state.store import Store
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget, line, write_lines
from plantcarbon_core.plant import load_plant
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, encode_batch
from tests.metering.api.conftest import PLANT, Api
from tests.metering.api.controlroom_seed import INTERVALS, seed_today, today_times
from tests.support.mqtt import Publisher
from tests.support.waiting import wait_until


@pytest.mark.integration
def test_live_gives_co2_per_boundary_and_never_their_sum(api: Api) -> None:
    seed_today(api.influx)
    r = api.client.get("/api/v1/controlroom/live", headers=api.as_("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    today = body["today"]
    # Site totals count main meters only: tr-01 (electricity) and boiler-1 (gas), 4 intervals each.
    # plant-a has no emission unit: no carbon market figure, and scope 1 is the boiler's gas alone.
    assert today["co2_kg"] == {"ets_direct": None, "scope1": 400.0, "scope2_location": 2000.0, "scope2_market": 1200.0}
    assert body["carbon_units"] is False
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
    assert area["utilities"]["scope1"] == 400.0 and area["utilities"]["scope2_location"] is None
    kind = {x["key"]: x for x in b["today"]["kind"]}
    assert set(kind) == {"kiln", "unmetered", "boiler"}
    assert [t["device"] for t in b["today"]["top"]] == ["boiler-1", "kiln-1"]
    links = {(x["source"], x["target"]): x["value"] for x in b["sankey"]["links"]}
    assert links == {("tr-01", "kiln-1"): 1600.0, ("tr-01", "tr-01:unmetered"): 2400.0}
    # The month so far includes today.
    assert b["month"]["totals"]["co2_kg"]["scope2_market"] >= 1200.0
    assert b["intensity"]["today"]["value"] is None  # plant-a has no production meter
    assert b["intensity"]["today"]["direct"] is None  # nor an emission unit


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
    assert cq.totals(pd.DataFrame(), pd.DataFrame())["co2_kg"] == dict.fromkeys(cq.TOTAL_BOUNDARIES)


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


# --- the carbon market boundary and per-product intensity (issue 20 items 3-4, issue 17 item 6) ----------

# A kiln line on plant-a: kiln-1's meter stands in for the coal feeder the unit counts (its engine scope-1
# rows must not be added again); the boiler's gas is counted by no unit, so scope 1 adds it.
CARBON = {
    "method": "cn-cement-clinker-2025",
    "materials": {
        "coal": {"kind": "fossil_fuel", "devices": ["kiln-1"]},
        "clinker": {"kind": "clinker", "devices": ["tr-01"]},
    },
    "units": [{"id": "line-1", "name": "Clinker line 1", "clinker": "clinker", "fuels": ["coal"]}],
}


def _direct_day(target: InfluxTarget, tz: str, now: datetime, co2_t: dict[str, float], clinker_t: float) -> None:
    """Today's `direct` points as metering/direct/influx.py writes them: one per source, at the local day's start."""
    midnight = now.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0)
    ms = int(midnight.timestamp() * 1000)
    lines = [
        line(
            "direct",
            {"site": "plant-a", "unit": "line-1", "source": src, "material": mat},
            {"co2_t": co2, "activity_t": act, "method": "cn-cement-clinker-2025@1", "complete": True},
            ms,
        )
        for src, mat, co2, act in [
            ("product", "clinker", co2_t["fuel"] + co2_t["process"], clinker_t),
            ("fuel", "coal", co2_t["fuel"], 0.75),
            ("process_clinker", "clinker", co2_t["process"], clinker_t),
        ]
    ]
    write_lines(target, target.metering_bucket, lines)


def _cbam_day(target: InfluxTarget, tz: str, now: datetime, clinker_t: float, direct_t: float, indirect_t: float) -> None:
    """Today's `cbam` points as metering/direct/influx.py writes them: each product's own parts."""
    midnight = now.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0)
    tags = {"site": "plant-a", "unit": "line-1"}
    own = {"electricity_mwh": 2.0, "method": "cn-cement-clinker-2025@1"}
    lines = [
        line(
            "cbam",
            {**tags, "product": "clinker"},
            {**own, "production_t": clinker_t, "direct_tco2": direct_t, "indirect_tco2": indirect_t, "precursor_t": 0.0},
            int(midnight.timestamp() * 1000),
        ),
        # Cement's own parts must not leak into the clinker's figure.
        line(
            "cbam",
            {**tags, "product": "cement"},
            {**own, "production_t": 9.0, "direct_tco2": 0.0, "indirect_tco2": 7.0, "precursor_t": 4.0},
            int(midnight.timestamp() * 1000),
        ),
    ]
    write_lines(target, target.metering_bucket, lines)


@pytest.mark.integration
def test_carbon_market_direct_scope1_and_scope2_side_by_side_with_direct_intensity(
    seeded_influx: InfluxTarget, tmp_path: Path
) -> None:
    plant = load_plant(PLANT).model_copy(update={"carbon": CARBON})
    now = datetime.now(UTC)
    seed_today(seeded_influx, now)
    # Kiln coal burnt as the engine sees it (scope 1 by default factors): the unit counts it with the lab's values.
    ts = today_times(now)[0]
    tags = {"site": "plant-a", "area": "kiln", "device": "kiln-1", "carrier": "coal", "role": "main", "scope": "1"}
    fields = {"co2_kg": 999.0, "co2e_kg": 999.0, "factor": "test@1"}
    write_lines(seeded_influx, seeded_influx.metering_bucket, [line("emissions", tags, fields, ts)])
    _direct_day(seeded_influx, plant.site.timezone, now, {"fuel": 1.5, "process": 2.7}, clinker_t=5.0)
    _cbam_day(seeded_influx, plant.site.timezone, now, clinker_t=5.0, direct_t=4.2, indirect_t=0.4)
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    key = store.create_key("viewer-key", "viewer")
    app = create_app(
        ApiSettings(env="development", data_dir=tmp_path / "data"),
        store=store,
        plant=plant,
        influx=seeded_influx,
        dr_store=EventStore(tmp_path / "dr.sqlite"),
        start_alerts=False,
    )
    try:
        with TestClient(app) as client:
            h = {"Authorization": f"Bearer {key}"}
            live = client.get("/api/v1/controlroom/live", headers=h).json()
            b = client.get("/api/v1/controlroom/breakdown", headers=h).json()
    finally:
        store.close()
    co2 = live["today"]["co2_kg"]
    # Carbon market: the unit's fuel + process CO2 (1.5 + 2.7 t), not the boiler's gas.
    assert co2["ets_direct"] == pytest.approx(4200.0)
    # Scope 1: the unit plus the boiler (100 kg x 4 intervals); kiln-1's engine row is not counted twice.
    assert co2["scope1"] == pytest.approx(4600.0)
    assert co2["scope2_location"] == 2000.0 and co2["scope2_market"] == 1200.0
    assert co2["ets_direct"] <= co2["scope1"]
    assert live["carbon_units"] is True
    assert set(live["today"]["co2_method"]) == set(cq.TOTAL_BOUNDARIES)
    assert "process" in live["today"]["co2_method"]["ets_direct"]
    d = b["intensity"]["today"]["direct"]
    assert d["value"] == pytest.approx(4.2 / 5.0) and d["clinker_t"] == 5.0 and d["boundary"] == "ets_direct"
    assert d["benchmark"] is None  # the method file ships no clinker CO2 benchmark yet (benchmark: null)
    # CBAM per tonne of clinker today: direct and indirect apart, from the stored `cbam` day (clinker only).
    c = d["cbam"]
    assert c["boundary"] == "cbam" and c["production_t"] == 5.0
    assert c["see_direct_tco2_per_t"] == pytest.approx(4.2 / 5.0) and c["see_indirect_tco2_per_t"] == pytest.approx(0.08)
    assert c["see_total_tco2_per_t"] == pytest.approx(0.92)
    assert b["month"]["totals"]["co2_kg"]["ets_direct"] >= 4200.0


def test_a_benchmark_is_rated_on_the_tonnes_of_the_product_it_names() -> None:
    from plantcarbon_core.plant import parse_plant

    plant = parse_plant(
        "\n".join(
            [
                "site: {id: cem, name: Cem, timezone: Asia/Shanghai}",
                "devices:",
                "  - {id: tr, name: Tr, kind: transformer, carrier: electricity, role: main}",
                "  - {id: raw-meal, name: Raw meal, kind: production_line, carrier: production, area: kiln}",
                "  - {id: clinker, name: Clinker, kind: production_line, carrier: production, area: kiln}",
                "  - {id: cement-out-1, name: Cement, kind: production_line, carrier: production, area: cement-mill}",
            ]
        )
    )
    energy = pd.DataFrame(
        {
            "device": ["tr", "raw-meal", "clinker", "cement-out-1"],
            "carrier": ["electricity", "production", "production", "production"],
            "role": ["main", "main", "main", "main"],
            "amount": [96_013.0, 160.0, 100.0, 110.0],
            "tce_kg": [11_800.0, 0.0, 0.0, 0.0],
            "cost": [0.0, 0.0, 0.0, 0.0],
        }
    )
    t = cq.totals(energy, pd.DataFrame())
    bm = [{"id": "gb16780", "product": "clinker", "levels": {"advanced": 114, "new_plant": 118, "limit": 128}}]
    it = cq.intensity(plant, energy, t, bm, None)
    # 11 800 kgce / 100 t clinker = 118 kgce/t: meets GB 16780-2012's new-plant value (<= 118), not the
    # advanced one (<= 114). Raw meal and cement tonnes (370 t together) are not clinker.
    assert it["output_t"] == 100.0 and it["value"] == pytest.approx(118.0)
    assert it["benchmarks"][0]["met"] == "new_plant" and it["product"] == "clinker"
    assert it["kwh_per_t"] == pytest.approx(960.13)
    assert cq.intensity(plant, energy, t, [], None)["output_t"] == 370.0  # no benchmark: the site's output


@pytest.mark.integration
def test_a_device_silent_for_hours_shows_since_its_last_reading(api: Api) -> None:
    # An offline device's since-when is its real last reading hours ago, not "never".
    last = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    tags = {"site": "plant-a", "device": "pv-01", "role": "sub"}
    write_lines(
        api.influx, api.influx.raw_bucket, [line("electricity", tags, {"p_kw": 1.0}, int(last.timestamp() * 1000))]
    )
    body = api.client.get("/api/v1/controlroom/live", headers=api.as_("viewer")).json()
    pv = next(r for r in body["health"]["not_fine"] if r["device"] == "pv-01")
    assert pv["state"] == "offline" and pv["since"] == last.isoformat()
    tr = next((r for r in body["health"]["not_fine"] if r["device"] == "tr-01"), None)
    assert tr is None  # tr-01 reported a moment ago (the fixture's raw rows)


def _fast_api(influx: InfluxTarget, broker_url: str, tmp_path: Path) -> tuple[TestClient, Any, dict[str, str]]:
    """The app as a service runs it: its alert engine on the broker feeds the last-seen tracker."""
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    key = store.create_key("viewer-key", "viewer")
    plant = load_plant(PLANT)
    engine = AlertService(store, plant, broker_url, influx=influx)
    app = create_app(
        ApiSettings(env="development", data_dir=tmp_path / "data"), store=store, plant=plant, influx=influx,
        dr_store=EventStore(tmp_path / "dr.sqlite"), alerts_service=engine, start_alerts=True,
    )  # fmt: skip
    return TestClient(app, raise_server_exceptions=False), app.state.services, {"Authorization": f"Bearer {key}"}


@pytest.mark.integration
def test_fast_health_from_the_broker_equals_the_influxdb_health(
    seeded_influx: InfluxTarget, mosquitto: Mosquitto, publisher: Callable[..., Publisher], tmp_path: Path
) -> None:
    # pv-01 last reported 3 hours ago, before the API started: only the InfluxDB seed knows it.
    silent = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    pv = {"site": "plant-a", "device": "pv-01", "role": "sub"}
    write_lines(seeded_influx, seeded_influx.raw_bucket, [line("electricity", pv, {"p_kw": 1.0}, _ms(silent))])
    client, svc, viewer = _fast_api(seeded_influx, mosquitto.url, tmp_path)
    with client:
        assert svc.alerts.wait_subscribed(10)
        pub = publisher()
        # Odd messages first: neither they nor anything after them may break the tracker.
        pub.publish(data_topic("plant-a", "tr-01"), b"not json").wait_for_publish(10)
        odd = ReadingBatch("edge-01", "kiln-1", 1, [Sample(_ms(silent), {"p_kw": 1.0})])
        pub.publish(data_topic("plant-a", "tr-01"), encode_batch(odd)).wait_for_publish(10)  # device mismatch
        only_bad = ReadingBatch("edge-01", "boiler-1", 1, [Sample(_ms(datetime.now(UTC)), {}, {"flow_nm3h": "crc"})])
        pub.publish(data_topic("plant-a", "boiler-1"), encode_batch(only_bad)).wait_for_publish(10)
        # Then readings, as an edge publishes them and ingest writes them.
        now = datetime.now(UTC).replace(microsecond=0)
        sent = {"tr-01": now - timedelta(seconds=2), "kiln-1": now - timedelta(seconds=3),
                "boiler-1": now - timedelta(seconds=60)}  # fmt: skip
        carrier = {"tr-01": "electricity", "kiln-1": "electricity", "boiler-1": "natural_gas"}
        for seq, (dev, t) in enumerate(sent.items(), start=2):
            values = {"p_kw": 1000.0, "e_imp_kwh": 5000.0} if carrier[dev] == "electricity" else {"flow_nm3h": 9.0}
            pub.publish(data_topic("plant-a", dev), encode_batch(ReadingBatch("edge-01", dev, seq, [
                Sample(_ms(t) - 1000, values), Sample(_ms(t), values)]))).wait_for_publish(10)  # fmt: skip
            tags = {"site": "plant-a", "device": dev, "role": "sub"}
            write_lines(seeded_influx, seeded_influx.raw_bucket, [line(carrier[dev], tags, values, _ms(t))])
        assert svc.last_seen is not None
        assert wait_until(lambda: svc.last_seen.live("plant-a") == sent, 10), svc.last_seen.live("plant-a")
        svc.clock = lambda: now + timedelta(seconds=5)  # one instant for both paths
        fast = client.get("/api/v1/controlroom/live", headers=viewer).json()["health"]
        tracker, svc.last_seen = svc.last_seen, None  # the InfluxDB path, on the same data
        slow = client.get("/api/v1/controlroom/live", headers=viewer).json()["health"]
        svc.last_seen = tracker
    assert fast == slow
    states = {r["device"]: (r["state"], r["since"]) for r in fast["not_fine"]}
    assert states["pv-01"] == ("offline", silent.isoformat())
    # 65 s > 3 polls of 15 s; the later batch whose every value was bad is not a reading.
    assert states["boiler-1"] == ("stale", sent["boiler-1"].isoformat())
    assert "tr-01" not in states and "kiln-1" not in states and fast["counts"]["online"] == 2
    assert svc.alerts.bad_payloads["device_mismatch"] == 1 and tracker.ignored == 0


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


@pytest.mark.integration
def test_today_rows_are_refreshed_in_the_background_after_the_first_read(influx_target: InfluxTarget) -> None:
    now = datetime.now(UTC)
    seed_today(influx_target, now)
    midnight = now.astimezone(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=0, microsecond=0)
    cache = cc.TodayCache(ttl_s=0.0)
    first, _ = cache.get(influx_target, "plant-a", midnight.astimezone(UTC), now)
    kiln = first[first["device"] == "kiln-1"]["amount"].sum()
    tags = {"site": "plant-a", "device": "kiln-1", "carrier": "electricity", "role": "sub", "area": "kiln"}
    fields = {"amount": 100.0, "tce_kg": 12.29, "cost": 30.0, "completeness": 1.0}
    write_lines(influx_target, influx_target.metering_bucket, [line(sc.ENERGY, tags, fields, today_times(now)[-1] + 1)])
    # Due (ttl 0): the call answers at once with the rows it has and starts one background read.
    stale, _ = cache.get(influx_target, "plant-a", midnight.astimezone(UTC), now)
    assert stale is first
    assert cache.wait_idle(30)
    fresh, _ = cache.get(influx_target, "plant-a", midnight.astimezone(UTC), now)
    assert fresh[fresh["device"] == "kiln-1"]["amount"].sum() == pytest.approx(kiln + 100.0)
    # The same rows a read in that call would give.
    direct = cq.read_energy(influx_target, "plant-a", midnight.astimezone(UTC), now)
    assert (
        fresh.sort_values(["device", "carrier"])
        .reset_index(drop=True)
        .equals(direct.sort_values(["device", "carrier"]).reset_index(drop=True))
    )
