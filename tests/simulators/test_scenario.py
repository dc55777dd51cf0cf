"""Scenario → plant file: what the generated plant file says about the simulated plant."""

from __future__ import annotations

from plantcarbon_core.plant import Supply, parse_plant
from simulators.history import history_plant_yaml
from simulators.scenario import load_scenario


def test_cement_steam_header_says_it_comes_from_the_gas_boiler() -> None:
    """Issue 14 defect 3: the cement plant's steam header was taken as purchased heat."""
    plant = parse_plant(history_plant_yaml(load_scenario("cement")), "cement.yaml")
    assert plant.device("steam-header").supply == Supply(origin="onsite", generated_by="gas-boiler")
    assert plant.device("gas-boiler").supply == Supply()  # the gas is bought
    internal = plant.internal_transfers()
    steam = {d.id for d in plant.devices if d.carrier == "steam"}
    pv = {d.id for d in plant.devices if d.kind == "pv"}
    assert steam == {"steam-header", "steam-user-1", "steam-user-2", "steam-user-3"}
    assert len(pv) == 4 and internal == steam | pv
