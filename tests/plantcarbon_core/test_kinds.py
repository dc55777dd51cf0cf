"""The device-kind table: every kind in use has a row, and its traits give today's behaviour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plantcarbon_core.kinds import kind, kinds
from plantcarbon_core.plant import load_plant, parse_plant
from simulators.loads import MODELS
from simulators.scenario import available_scenarios, load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_every_kind_in_the_scenarios_and_example_plants_has_a_row() -> None:
    used = {d.kind for name in available_scenarios() for d in load_scenario(name).devices}
    used |= {d.kind for p in EXAMPLES.glob("*.yaml") for d in load_plant(p).devices}
    assert used and used <= set(kinds())


def test_every_load_model_is_a_simulator_model() -> None:
    for k in kinds().values():
        assert k.load_model is None or k.load_model in MODELS, k.id


def test_labels_in_both_languages() -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for k in kinds().values():
        assert k.label("en") == k.en and not cjk.search(k.en), k.id
        assert cjk.search(k.label("zh")), k.id


def test_traits_reproduce_the_checks_they_replace() -> None:
    # Before the table: "generates" was `kind == "pv"` (energy rows, internal transfers, supply
    # checks, PV export sign, top consumers); the dashboards' load panels left out {pv, storage};
    # a transformer's load was read as apparent power (kVA).
    assert {k.id for k in kinds().values() if k.generates} == {"pv"}
    assert {k.id for k in kinds().values() if not k.consumes_only} == {"pv", "storage"}
    assert {k.id for k in kinds().values() if k.rated_in == "kVA"} == {"transformer"}
    # The simulators' default load model per kind, as scenario.DEFAULT_MODEL had it (others: constant).
    old_default_model = {
        "transformer": "transformer", "kiln": "kiln", "furnace": "furnace", "mill": "mill",
        "compressor": "compressor", "motor": "motor", "fan": "fan", "pump": "pump", "lighting": "lighting",
        "hvac": "hvac", "chiller": "hvac", "pv": "pv", "boiler": "boiler", "gas_meter": "boiler",
        "steam_header": "steam", "production_line": "production",
    }  # fmt: skip
    assert {k.id: k.load_model for k in kinds().values() if k.load_model} == old_default_model


def test_an_unknown_kind_is_refused_naming_the_known_ones() -> None:
    text = "site: {id: s, name: S}\ndevices:\n  - {id: d, name: D, kind: %s, carrier: electricity}\n"
    assert parse_plant(text % "pv").devices[0].kind == "pv"
    with pytest.raises(
        ValueError, match=r"devices\[0\] \(id=d\): kind: must be one of 'transformer', .* got 'windmill'"
    ):
        parse_plant(text % "windmill")
    with pytest.raises(KeyError):
        kind("windmill")
