"""Each fault type shows up as configured, on the wire where it acts; the same seed gives the same faults."""

from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from pymodbus.exceptions import ModbusException

from plantcarbon_core.profile import Bad, load_profile
from simulators.faults import resolve_faults
from simulators.history import generate
from simulators.model import PlantModel
from simulators.plant import SimulatedPlant
from tests.simulators.conftest import client_for, read_profile, read_words, scenario

pytestmark = pytest.mark.integration

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)


def _meter(i: str, profile: str = "eastron-sdm630", gateway: str = "gw-s") -> dict[str, object]:
    return {"id": i, "name": i, "kind": "kiln", "rated": 400, "meter": {"profile": profile, "gateway": gateway}}


def test_modbus_faults_on_the_wire() -> None:
    at = datetime.now(UTC) + timedelta(seconds=1.5)
    kinds = {
        "exc-0b": {"kind": "exception", "code": 0x0B},
        "exc-02": {"kind": "exception", "code": 2},
        "exc-04": {"kind": "exception", "code": 4},
        "slow": {"kind": "timeout"},
        "na": {"kind": "not_available"},
        "junk": {"kind": "garbage"},
        "zero": {"kind": "zero"},
    }
    devices = [_meter(i) for i in [*kinds, "healthy"]]
    faults = [{"device": i, "at": at, "duration_s": 4.0, **k} for i, k in kinds.items()]
    sc = scenario(devices, faults=faults)
    p = load_profile("eastron-sdm630")
    row = p.by_name("p_kw")
    with SimulatedPlant(sc, seed=2).start() as sim:
        before = {i: read_profile(client_for(sim.endpoints[i]), p, sim.endpoints[i].unit)["p_kw"] for i in kinds}
        assert all(isinstance(v, float) and v > 100 for v in before.values())
        time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 1.5)
        for dev, code in (("exc-0b", 0x0B), ("exc-02", 2), ("exc-04", 4)):
            c = client_for(sim.endpoints[dev])
            rr = read_words(c, "input", row.address, 2, sim.endpoints[dev].unit)
            assert rr.isError() and rr.exception_code == code, dev
            c.close()
        c = client_for(sim.endpoints["slow"])
        t0 = time.monotonic()
        try:
            rr = read_words(c, "input", row.address, 2, sim.endpoints["slow"].unit)
            assert rr.isError()
        except ModbusException:
            pass
        assert time.monotonic() - t0 >= 0.9  # the client gave up: no answer within its 1 s timeout
        c.close()
        na = read_profile(client_for(sim.endpoints["na"]), p, sim.endpoints["na"].unit)
        assert all(isinstance(v, Bad) and "not available" in v.reason for v in na.values())
        zero = read_profile(client_for(sim.endpoints["zero"]), p, sim.endpoints["zero"].unit)
        assert zero["p_kw"] == 0.0 and zero["e_imp_kwh"] == 0.0
        junk = read_profile(client_for(sim.endpoints["junk"]), p, sim.endpoints["junk"].unit)
        shown = sim.shown["junk"][1]
        assert sum(1 for q, v in junk.items() if isinstance(v, Bad) or v != pytest.approx(shown[q], rel=0.01)) >= 15
        healthy = read_profile(client_for(sim.endpoints["healthy"]), p, sim.endpoints["healthy"].unit)
        assert isinstance(healthy["p_kw"], float) and healthy["p_kw"] > 100
        # After the window every meter answers normally again.
        time.sleep(max(0.0, (at + timedelta(seconds=4) - datetime.now(UTC)).total_seconds()) + 1.2)
        for dev in ("exc-0b", "na", "zero"):
            v = read_profile(client_for(sim.endpoints[dev]), p, sim.endpoints[dev].unit)["p_kw"]
            assert isinstance(v, float) and v > 100, dev


def test_counter_rollover_reset_and_replacement() -> None:
    devices = [
        _meter("roll", "carlo-gavazzi-em340"),
        _meter("reset"),
        _meter("swap"),
        _meter("plain"),
    ]
    faults = [
        {"device": "roll", "kind": "rollover", "at": 1800},
        {"device": "reset", "kind": "reset", "at": 1800},
        {"device": "swap", "kind": "replacement", "at": 1800, "new_base": 5000.0},
    ]
    sc = scenario(devices, faults=faults)
    h = generate(sc, MONDAY, MONDAY + timedelta(hours=1), step_s=60)
    clean = generate(scenario(devices), MONDAY, MONDAY + timedelta(hours=1), step_s=60)
    r = h.readings
    fault_ms = int((MONDAY + timedelta(seconds=1800)).timestamp() * 1000)

    def counter(dev: str) -> tuple[np.ndarray, np.ndarray]:
        s = r[(r.device == dev) & (r.quantity == "e_imp_kwh")].sort_values("ts_ms")
        return s["ts_ms"].to_numpy(), s["value"].to_numpy()

    ts, roll = counter("roll")
    cmax = load_profile("carlo-gavazzi-em340").by_name("e_imp_kwh").counter_max
    assert roll[ts < fault_ms].min() > cmax - 300 and roll[ts >= fault_ms].max() < 300  # wrapped to ~0
    ts, reset = counter("reset")
    assert reset[ts == fault_ms][0] == pytest.approx(0.0, abs=1e-6) and reset[ts < fault_ms].min() > 1000
    ts, swap = counter("swap")
    assert swap[ts == fault_ms][0] == pytest.approx(5000.0)
    # The truth does not see meter faults: energy is energy.
    assert h.truth.equals(clean.truth)


def test_history_records_modbus_and_mqtt_faults() -> None:
    devices = [
        _meter("slow"),
        {
            "id": "plug",
            "name": "plug",
            "kind": "other",
            "rated": 5,
            "model": "constant",
            "meter": {"protocol": "mqtt", "payload": "tasmota", "period_s": 10},
        },
        {
            "id": "gw",
            "name": "gw",
            "kind": "other",
            "rated": 5,
            "model": "constant",
            "meter": {"protocol": "mqtt", "payload": "vendor-gateway", "period_s": 10},
        },
    ]
    faults = [
        {"device": "slow", "kind": "timeout", "at": 600, "duration_s": 120},
        {"device": "plug", "kind": "disconnect", "at": 600, "duration_s": 300},
        {"device": "gw", "kind": "duplicate", "at": 600, "duration_s": 120},
    ]
    h = generate(scenario(devices, faults=faults), MONDAY, MONDAY + timedelta(hours=1), step_s=60)
    r = h.readings
    slow = r[r.device == "slow"].groupby("ts_ms")["bad"].first()
    assert (slow == "timeout").sum() == 2  # samples at +600 s and +660 s
    plug_ts = r[r.device == "plug"]["ts_ms"].unique()
    assert len(plug_ts) == 60 - 5
    gw = r[(r.device == "gw") & (r.quantity == "p_kw")]
    assert len(gw) == 60 + 2


def test_random_faults_same_seed_same_windows() -> None:
    devices = [_meter(f"m{i}") for i in range(5)]
    sc = scenario(devices, random_faults={"per_device_per_hour": 3, "kinds": ["timeout", "exception", "zero"]})
    a = resolve_faults(PlantModel(sc, seed=9, origin=MONDAY), until=MONDAY + timedelta(hours=2))
    b = resolve_faults(PlantModel(sc, seed=9, origin=MONDAY), until=MONDAY + timedelta(hours=2))
    c = resolve_faults(PlantModel(sc, seed=10, origin=MONDAY), until=MONDAY + timedelta(hours=2))
    assert a == b and a != c
    assert len(a) == 5 * 6 and {w.kind for w in a} == {"timeout", "exception", "zero"}
    assert all(MONDAY.timestamp() <= w.start < (MONDAY + timedelta(hours=2)).timestamp() for w in a)


def test_mqtt_device_faults_on_the_broker(mosquitto) -> None:
    at = datetime.now(UTC) + timedelta(seconds=2)
    devs = ["dup", "ooo", "skew", "gone", "fine"]
    devices = [
        {
            "id": i,
            "name": i,
            "kind": "other",
            "rated": 5,
            "model": "constant",
            "meter": {"protocol": "mqtt", "payload": "vendor-gateway", "period_s": 0.5},
        }
        for i in devs
    ]
    faults = [
        {"device": "dup", "kind": "duplicate", "at": at, "duration_s": 3},
        {"device": "ooo", "kind": "out_of_order", "at": at, "duration_s": 3},
        {"device": "skew", "kind": "clock_skew", "at": at, "duration_s": 3, "skew_s": 300},
        {"device": "gone", "kind": "disconnect", "at": at, "duration_s": 3},
    ]
    got: dict[str, list[tuple[float, dict[str, object]]]] = {d: [] for d in devs}
    lock = threading.Lock()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        with lock:
            got[msg.topic.split("/")[1]].append((time.time(), doc))

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t-sub")
    sub.on_message = on_message
    sub.connect(mosquitto.host, mosquitto.port)
    sub.subscribe("acme-gw/+/up", qos=1)
    sub.loop_start()
    with SimulatedPlant(scenario(devices, faults=faults), seed=4).start(mqtt_url=mosquitto.url):
        time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 5.5)
    sub.loop_stop()
    sub.disconnect()
    a, b = at.timestamp(), at.timestamp() + 3
    dup_ts = [d["ts"] for _, d in got["dup"]]
    assert any(dup_ts.count(t) == 2 for t in dup_ts if a * 1000 <= t < b * 1000)  # type: ignore[operator]
    assert all(dup_ts.count(t) == 1 for t in dup_ts if t < a * 1000)  # type: ignore[operator]
    ooo = [d["ts"] for _, d in got["ooo"]]
    assert any(x > y for x, y in itertools.pairwise(ooo))  # type: ignore[operator]
    skews = [d["ts"] / 1000 - arrival for arrival, d in got["skew"]]  # type: ignore[operator]
    assert any(290 < s < 310 for s in skews) and any(abs(s) < 5 for s in skews)
    arrivals = [t for t, _ in got["gone"]]
    assert max(y - x for x, y in itertools.pairwise(arrivals)) > 2.5  # offline ~3 s
    fine = [t for t, _ in got["fine"]]
    assert max(y - x for x, y in itertools.pairwise(fine)) < 1.5
