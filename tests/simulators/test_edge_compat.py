"""The simulators' plant files pass the edge's checks, and the edge's own read plan decodes the live meters."""

from __future__ import annotations

import pytest

from edge.config import edge_errors
from edge.plan import plan_reads
from edge.values import decode_blocks
from plantcarbon_core.plant import ModbusTcpSource, parse_plant
from plantcarbon_core.profile import Bad, load_profile
from simulators.history import history_plant_yaml
from simulators.plant import SimulatedPlant
from simulators.scenario import load_scenario
from tests.simulators.conftest import client_for, read_words

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["small", "cement"])
def test_plant_files_pass_edge_checks(name: str) -> None:
    plant = parse_plant(history_plant_yaml(load_scenario(name)), f"{name}.yaml")
    assert edge_errors(plant, f"{name}.yaml") == []


def test_edge_read_plan_decodes_every_live_meter() -> None:
    with SimulatedPlant(load_scenario("small"), seed=5).start() as sim:
        sim.pause()
        plant = sim.plant
        assert edge_errors(plant) == []
        checked = 0
        for dev in plant.devices:
            src = dev.source
            if not isinstance(src, ModbusTcpSource):
                continue
            profile = load_profile(src.profile)
            ep = sim.endpoints[dev.id]
            client = client_for(ep)
            answers = {}
            for block in plan_reads(profile, src.workarounds):
                rr = read_words(client, block.table, block.start, block.count, src.unit)
                answers[block] = Bad(f"exception {rr.exception_code}") if rr.isError() else rr.registers
            client.close()
            values, bad = decode_blocks(profile, answers, dev.ratios)
            assert bad == {}, (dev.id, bad)
            shown = sim.shown[dev.id][1]
            for q, v in values.items():
                assert v == pytest.approx(shown[q], rel=1e-3, abs=0.05 * max(1.0, abs(shown[q]) ** 0.5)), (dev.id, q)
            checked += 1
        assert checked == 15
