"""The agent against real pymodbus servers and a real Mosquitto: values equal the truth, read-only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.profile import available_profiles, load_profile
from tests.edge.conftest import image_for, make_plant, modbus_device, running_agent, truth_for

pytestmark = pytest.mark.integration

RATIOS = {"ct": "200/5", "pt": "10000/100"}


async def wait_for(check, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


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
        await wait_for(lambda: len(col.batches("m-1")) >= 2)
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
        await wait_for(lambda: len(col.batches("m-1")) >= 1)
        server.set_words(1, "input", 52, [0xFFFF, 0xFFFF])  # p_kw: float NaN
        server.set_words(1, "input", 70, [0x4396, 0x0000])  # f_hz: 300.0, outside 45..65
        await wait_for(lambda: any(s.bad for b in col.batches("m-1") for s in b.samples))
    last = col.batches("m-1")[-1].samples[0]
    assert last.bad == {"p_kw": "not available (NaN)", "f_hz": "out of range: 300 > 65"}
    assert "p_kw" not in last.values and last.values["v_l1_v"] == pytest.approx(truth["v_l1_v"], rel=1e-6)
    assert server.writes == 0
