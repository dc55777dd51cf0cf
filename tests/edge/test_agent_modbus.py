"""The agent against real pymodbus servers and a real Mosquitto: values equal the truth, read-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantcarbon_core.profile import available_profiles, encode_row, load_profile
from tests.edge.conftest import image_for, make_plant, modbus_device, running_agent, truth_for
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.integration

RATIOS = {"ct": "200/5", "pt": "10000/100"}


@pytest.mark.parametrize("framer", ["socket", "rtu"])
@pytest.mark.parametrize("profile_id", sorted(available_profiles()))
async def test_published_values_equal_the_truth(
    profile_id, framer, mosquitto, modbus_server, collector, tmp_path: Path
) -> None:
    profile = load_profile(profile_id)
    truth = truth_for(profile)
    ct, pt = 40.0, 100.0
    server = modbus_server({5: image_for(profile, truth, ct=ct, pt=pt)}, framer=framer)
    site = f"vals-{framer}-{profile_id}"[:60]
    plant = make_plant(
        [modbus_device("m-1", server.port, unit=5, profile=profile_id, framer=framer, interval_s=0.5, ratios=RATIOS)],
        site=site,
    )
    col = collector(mosquitto, f"pc/{site}/#")
    async with running_agent(plant, mosquitto, tmp_path):
        assert await wait_until_async(lambda: len(col.batches("m-1")) >= 2, 20)
    batches = col.batches("m-1")
    assert [b.seq for b in batches[:2]] == [0, 1]
    for b in batches[:2]:
        (sample,) = b.samples
        assert sample.bad == {}
        assert sample.values == pytest.approx(truth, rel=1e-6)
    assert server.writes == 0  # the agent never sent a write function code
    assert col.status("/m-1/status")[0]["online"] is True


async def test_live_changes_and_bad_registers(mosquitto, modbus_server, collector, tmp_path: Path, sdm630) -> None:
    truth = truth_for(sdm630)
    server = modbus_server({1: image_for(sdm630, truth)})
    plant = make_plant([modbus_device("m-1", server.port, interval_s=0.3)], site="live")
    col = collector(mosquitto, "pc/live/#")
    async with running_agent(plant, mosquitto, tmp_path):
        assert await wait_until_async(lambda: len(col.batches("m-1")) >= 1, 20)
        server.set_words(1, "input", 52, [0xFFFF, 0xFFFF])  # p_kw: float NaN
        server.set_words(1, "input", 70, [0x4396, 0x0000])  # f_hz: 300.0, outside 45..65
        assert await wait_until_async(lambda: any(s.bad for b in col.batches("m-1") for s in b.samples), 20)
    last = col.batches("m-1")[-1].samples[0]
    assert last.bad == {"p_kw": "not available (NaN)", "f_hz": "out of range: 300 > 65"}
    assert "p_kw" not in last.values and last.values["v_l1_v"] == pytest.approx(truth["v_l1_v"], rel=1e-6)
    assert server.writes == 0


async def test_rtu_serial_source_through_pyserial_socket_url(
    mosquitto, modbus_server, collector, tmp_path: Path, sdm630
) -> None:
    # A ModbusRtuSource goes through pymodbus's serial client; pyserial's socket:// URL stands in
    # for the UART, so everything but the wire is the real serial path (RTU framing, one line,
    # two units polled in turn).
    truth = truth_for(sdm630)
    server = modbus_server({u: image_for(sdm630, truth, fill_gaps=True) for u in (4, 9)}, framer="rtu")
    devices = [
        {
            "id": f"rtu-{u}",
            "name": "rtu",
            "kind": "pump",
            "carrier": "electricity",
            "source": {
                "protocol": "modbus-rtu",
                "serial_port": f"socket://127.0.0.1:{server.port}",
                "baudrate": 19200,
                "parity": "E",
                "unit": u,
                "profile": "eastron-sdm630",
                "interval_s": 0.4,
            },
        }
        for u in (4, 9)
    ]
    plant = make_plant(devices, site="rtu")
    col = collector(mosquitto, "pc/rtu/#")
    async with running_agent(plant, mosquitto, tmp_path) as agent:
        assert len(agent.links) == 1  # one serial line for both units
        assert await wait_until_async(lambda: all(len(col.batches(f"rtu-{u}")) >= 2 for u in (4, 9)), 20)
    for u in (4, 9):
        assert col.batches(f"rtu-{u}")[0].samples[0].values == pytest.approx(truth, rel=1e-6)
    assert server.writes == 0


async def test_a_dtsu666_h_profile_on_a_dtsu666_publishes_no_zero_energy(
    mosquitto, modbus_server, collector, tmp_path: Path
) -> None:
    # Issue 14, defect 9: a DTSU666 holds its energies at 0x101E / 0x1028; read with the
    # DTSU666-H profile (0x401E / 0x4028) the meter answers zero-filled words there, which the
    # edge published as a valid 0.0 kWh counter. It must be a bad value with a reason.
    plain, h = load_profile("chint-dtsu666"), load_profile("chint-dtsu666-h")
    truth = truth_for(plain)
    image = image_for(plain, truth)
    image["holding"].update({a: 0 for a in range(0x401E, 0x4032)})  # the block it does not use: zeros
    server = modbus_server({1: image})
    plant = make_plant([modbus_device("m-1", server.port, unit=1, profile=h.id, interval_s=0.3)], site="dtsu-h-on-dtsu")
    col = collector(mosquitto, "pc/dtsu-h-on-dtsu/#")
    async with running_agent(plant, mosquitto, tmp_path):
        assert await wait_until_async(lambda: len(col.batches("m-1")) >= 1, 20)
        first = col.batches("m-1")[0].samples[0]
        # The meter starts counting: a real reading, then it reads exactly 0 again (a fault).
        server.set_words(1, "holding", 0x401E, encode_row(h, h.by_name("e_imp_kwh"), 1234.5))
        assert await wait_until_async(
            lambda: any("e_imp_kwh" in s.values for b in col.batches("m-1") for s in b.samples), 20
        )
        server.set_words(1, "holding", 0x401E, [0, 0])
        assert await wait_until_async(lambda: "e_imp_kwh" in col.batches("m-1")[-1].samples[0].bad, 20)
    assert "e_imp_kwh" not in first.values and "e_exp_kwh" not in first.values
    assert first.bad["e_imp_kwh"].startswith("implausible: every counter reads exactly 0")
    assert first.values["p_kw"] == pytest.approx(truth["p_kw"], rel=1e-6)
    last = col.batches("m-1")[-1].samples[0]
    assert last.bad["e_imp_kwh"] == "implausible: counter reads exactly 0 after 1234.5 (zeroed or unserved register)"
    assert server.writes == 0
