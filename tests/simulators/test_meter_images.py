"""Every meter profile, served by a simulated meter and read by a real pymodbus client, decodes to the model's values.

Covers float32 ABCD (SDM630 input, PM5000 holding with 1-based manual numbers), scaled floats
with CT/PT ratios (DTSU666), int32 CDAB (EM340), int16 + scale-factor registers and uint32
counters (SunSpec 203), the gas and steam totalizers and a belt-scale integrator (uint32, 3 decimals) — over Modbus TCP and RTU-over-TCP.
"""

from __future__ import annotations

import math

import pytest

from plantcarbon_core.profile import WORDS, Bad, available_profiles, load_profile
from simulators.plant import SimulatedPlant
from tests.simulators.conftest import client_for, read_profile, scenario

pytestmark = pytest.mark.integration

ELECTRIC = [
    "eastron-sdm630",
    "schneider-pm5000",
    "chint-dtsu666",
    "carlo-gavazzi-em340",
    "sunspec-203",
    "chint-dtsu666-h",
]


def _devices() -> list[dict[str, object]]:
    devs: list[dict[str, object]] = []
    for n, prof in enumerate(ELECTRIC):
        meter: dict[str, object] = {"profile": prof, "gateway": "gw-s" if n % 2 else "gw-r"}
        dev: dict[str, object] = {"id": f"m-{n}", "name": prof, "kind": "kiln", "rated": 500, "meter": meter}
        if prof == "chint-dtsu666":
            # A 10 kV feeder: the meter sees 100 V / 5 A secondaries.
            dev |= {"ratios": {"ct": "300/5", "pt": "10000/100"}, "voltage_v": 5774}
        devs.append(dev)
    devs.append({"id": "own", "name": "own port", "kind": "motor", "rated": 90, "meter": {"profile": "eastron-sdm630"}})
    devs.append(
        {
            "id": "gas",
            "name": "gas",
            "kind": "boiler",
            "carrier": "natural_gas",
            "rated": 300,
            "meter": {"profile": "fx-gas-corrector", "gateway": "gw-r"},
        }
    )
    devs.append(
        {
            "id": "steam",
            "name": "steam",
            "kind": "steam_header",
            "carrier": "steam",
            "rated": 4,
            "params": {"from_boiler": "gas"},
            "meter": {"profile": "generic-steam-totalizer", "gateway": "gw-s"},
        }
    )
    devs.append(
        {
            "id": "coal",
            "name": "coal weigh feeder",
            "kind": "boiler",
            "carrier": "coal",
            "rated": 20,
            "meter": {"profile": "siemens-milltronics-bw500", "gateway": "gw-r"},
        }
    )
    return devs


def _resolution(profile_id: str, quantity: str, helpers_exp: int, ratio: float) -> float:
    p = load_profile(profile_id)
    r = p.by_name(quantity)
    if r.type.startswith("float"):
        return 0.0
    return r.scale * 10.0**helpers_exp * ratio * 0.51


def test_every_profile_is_served() -> None:
    used = {d["meter"]["profile"] for d in _devices()}  # type: ignore[index]
    assert used == set(available_profiles()), "a profile without a simulated meter"


def test_clients_decode_the_model_values() -> None:
    sc = scenario(_devices())
    with SimulatedPlant(sc, seed=11).start() as sim:
        sim.pause()
        framers = set()
        for d in sc.metered:
            ep = sim.endpoints[d.id]
            framers.add(ep.framer)
            assert d.meter is not None and d.meter.profile is not None
            prof = load_profile(d.meter.profile)
            img = sim.images[d.id]
            client = client_for(ep)
            got = read_profile(client, prof, ep.unit, ct=d.ratios.ct_factor, pt=d.ratios.pt_factor)
            client.close()
            shown = sim.shown[d.id][1]
            for q, v in got.items():
                row = prof.by_name(q)
                assert not isinstance(v, Bad), (d.id, q, v)
                exp = img.exps.get(row.scale_factor, 0) if row.scale_factor else 0
                ratio = {"none": 1.0, "ct": img.ct, "pt": img.pt, "ctpt": img.ct * img.pt}[row.ratio]
                tol = _resolution(prof.id, q, exp, ratio)
                assert v == pytest.approx(shown[q], rel=2e-6 if WORDS[row.type] == 2 else 1e-9, abs=tol), (d.id, q)
                assert math.isfinite(v)
        assert framers == {"socket", "rtu"}
        # The values are the model's: kiln power near its rating, the steam header fed by the boiler.
        assert 0.8 * 500 < sim.shown["m-0"][1]["p_kw"] < 0.95 * 500
        assert sim.shown["steam"][1]["flow_th"] == pytest.approx(sim.shown["gas"][1]["flow_nm3h"] / 75.0)
        assert all(s.writes == 0 for s in sim.servers.values())


def test_secondary_value_meter_holds_secondary_words() -> None:
    """DTSU666 registers hold 0.1 W secondary values: primary kW / (CT × PT) × 10 000."""
    sc = scenario(_devices())
    with SimulatedPlant(sc, seed=11).start() as sim:
        sim.pause()
        ep = sim.endpoints["m-2"]
        p = load_profile("chint-dtsu666")
        client = client_for(ep)
        rr = client.read_holding_registers(p.by_name("p_kw").address, count=2, device_id=ep.unit)
        raw = client.convert_from_registers(rr.registers, client.DATATYPE.FLOAT32)
        ratio = client.read_holding_registers(6, count=2, device_id=ep.unit).registers
        client.close()
        primary_kw = sim.shown["m-2"][1]["p_kw"]
        assert raw == pytest.approx(primary_kw / (60 * 100) * 10_000, rel=1e-6)
        assert ratio == [60, 1000]  # IrAt = CT 60, UrAt = PT 100 × 10


def test_gaps_answer_zero_or_exception_02() -> None:
    sc = scenario([{"id": "m", "name": "m", "kind": "kiln", "rated": 100, "meter": {"profile": "eastron-sdm630"}}])
    with SimulatedPlant(sc, seed=1).start() as sim:
        ep = sim.endpoints["m"]
        client = client_for(ep)
        small_gap = client.read_input_registers(0, count=20, device_id=1)  # 0..17 + gap to 52 is > 10
        assert small_gap.isError() and small_gap.exception_code == 2
        ok = client.read_input_registers(62, count=10, device_id=1)  # pf(62..63), gap 64..69, f_hz 70..71
        assert not ok.isError() and ok.registers[2:8] == [0] * 6
        client.close()


def test_every_type_and_word_byte_order_round_trips(modbus_server) -> None:
    """Every data type in ABCD, CDAB, BADC and DCBA: the simulator's image, read by pymodbus, decodes back."""
    from pymodbus.client import ModbusTcpClient

    from plantcarbon_core.profile import MeterProfile, decode_row
    from simulators.meters import MeterImage

    types = ["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
    orders = [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")]
    quantities = ["p_kw", "q_kvar", "s_kva", "v_l1_v", "v_l2_v", "v_l3_v", "i_l1_a", "i_l2_a"]
    combos = [(t, o) for t in types for o in orders]
    seen = set()
    for start in range(0, len(combos), len(quantities)):  # one meter per 8 combinations
        regs, addr = [], 0
        for q, (dtype, (wo, bo)) in zip(quantities, combos[start : start + len(quantities)], strict=True):
            scale = 1.0 if dtype.startswith("float") else 0.1
            regs.append(
                {"quantity": q, "address": addr, "type": dtype, "word_order": wo, "byte_order": bo, "scale": scale}
            )
            addr += WORDS[dtype]
        prof = MeterProfile.model_validate(
            {
                "id": "synthetic",
                "manufacturer": "t",
                "model": "t",
                "table": "holding",
                "registers": regs,
                "manual": {"title": "t", "version": "1", "table": "t"},
            }
        )
        img = MeterImage(prof)
        # Signed types carry a negative value, so sign handling is covered too.
        values = {
            r["quantity"]: (1234.5 + i) * (1 if str(r["type"]).startswith("u") else -1) for i, r in enumerate(regs)
        }
        layout = img.layout()
        for table, a, words in img.encode(values):
            for k, w in enumerate(words):
                layout[table][a + k] = w
        server = modbus_server({1: layout})
        c = ModbusTcpClient("127.0.0.1", port=server.port)
        assert c.connect()
        for r in prof.registers:
            rr = c.read_holding_registers(r.address, count=r.words, device_id=1)
            got = decode_row(prof, r, rr.registers)
            assert got == pytest.approx(values[r.quantity or ""], abs=0.051), (r.type, r.word_order, r.byte_order)
            seen.add((r.type, prof.word_order_of(r), prof.byte_order_of(r)))
        c.close()
    assert len(seen) == len(combos)
