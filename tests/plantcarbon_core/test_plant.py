"""Plant-file loading: a valid file loads; each kind of mistake gives a precise, located error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from plantcarbon.cli import app
from plantcarbon_core.plant import PlantFileError, load_plant, parse_formula, parse_plant, parse_ratio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"


def base() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def errors_of(data: dict) -> list[str]:
    with pytest.raises(PlantFileError) as info:
        parse_plant(yaml.safe_dump(data), source="plant.yaml")
    return info.value.errors


def test_example_loads_with_ratios_and_hierarchy() -> None:
    plant = load_plant(EXAMPLE)
    tr = plant.device("tr-01")
    assert tr.ratios.ct_factor == 40.0
    assert tr.ratios.pt_factor == 100.0
    assert [d.id for d in plant.children("tr-01")] == ["kiln-1", "pv-01"]
    assert plant.site.tz.key == "Asia/Shanghai"
    assert plant.virtual_meters[0].terms() == [(1.0, "tr-01"), (-1.0, "kiln-1"), (1.0, "pv-01")]
    # The steam header is fed by the site's own gas boiler; PV is on-site generation.
    assert plant.device("steam-1").supply.generated_by == "boiler-1"
    assert plant.internal_transfers() == {"steam-1", "pv-01"}


def test_port_out_of_range_names_file_device_and_field() -> None:
    data = base()
    data["devices"][3]["source"]["port"] = 70000
    assert errors_of(data) == ["plant.yaml: devices[3] (id=boiler-1): source.port: must be 1..65535, got 70000"]


# (mutation, expected error line) — each is a different kind of plant-file mistake.
CASES = [
    (
        "missing device name",
        lambda d: d["devices"][0].pop("name"),
        "plant.yaml: devices[0] (id=tr-01): name: required field is missing",
    ),
    (
        "bad device id",
        lambda d: d["devices"][0].update(id="Kiln 2"),
        "plant.yaml: devices[0] (id=Kiln 2): id: must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lower-case letters, digits, - and _), got 'Kiln 2'",
    ),
    (
        "unknown kind",
        lambda d: d["devices"][1].update(kind="oven"),
        "plant.yaml: devices[1] (id=kiln-1): kind: must be one of ",
    ),
    (
        "unknown carrier",
        lambda d: d["devices"][1].update(carrier="electric"),
        "plant.yaml: devices[1] (id=kiln-1): carrier: must be one of ",
    ),
    (
        "misspelt field",
        lambda d: d["devices"][0].update(prent="x"),
        "plant.yaml: devices[0] (id=tr-01): prent: unknown field (check the spelling), got 'x'",
    ),
    (
        "duplicate id",
        lambda d: d["devices"][2].update(id="kiln-1"),
        "plant.yaml: devices[2] (id=kiln-1): id: duplicate of devices[1]",
    ),
    (
        "unknown parent",
        lambda d: d["devices"][1].update(parent="tr-09"),
        "plant.yaml: devices[1] (id=kiln-1): parent: no device with id 'tr-09'",
    ),
    (
        "sub-meter without parent",
        lambda d: d["devices"][1].update(parent=None),
        "plant.yaml: devices[1] (id=kiln-1): parent: a sub-meter (role: sub) needs a parent",
    ),
    (
        "bad time zone",
        lambda d: d["site"].update(timezone="China/Beijing"),
        "plant.yaml: site.timezone: unknown IANA time zone, got 'China/Beijing'",
    ),
    (
        "zero interval",
        lambda d: d["devices"][0]["source"].update(interval_s=0),
        "plant.yaml: devices[0] (id=tr-01): source.interval_s: must be > 0, got 0",
    ),
    (
        "bad CT ratio",
        lambda d: d["devices"][0]["ratios"].update(ct="200:5"),
        "plant.yaml: devices[0] (id=tr-01): ratios.ct: must be 'primary/secondary' like '200/5' or a number, got '200:5'",
    ),
    (
        "unknown protocol",
        lambda d: d["devices"][0]["source"].update(protocol="bacnet"),
        "plant.yaml: devices[0] (id=tr-01): source: protocol must be one of ",
    ),
    (
        "bad serial parity",
        lambda d: d["devices"][1]["source"].update(parity="X"),
        "plant.yaml: devices[1] (id=kiln-1): source.parity: must be one of 'N', 'E' or 'O', got 'X'",
    ),
    (
        "two devices on one Modbus address",
        lambda d: d["devices"][3]["source"].update(port=5020),
        "plant.yaml: devices[3] (id=boiler-1): source: same host, port and unit as device 'tr-01' (127.0.0.1:5020 unit 1)",
    ),
    (
        "parent cycle",
        lambda d: (d["devices"][0].update(parent="kiln-1"), d["devices"][0].update(role="sub")),
        "plant.yaml: devices[0] (id=tr-01): parent: cycle tr-01 -> kiln-1 -> tr-01",
    ),
    (
        "virtual meter on unknown device",
        lambda d: d["virtual_meters"][0].update(formula="tr-01 - kiln-9"),
        "plant.yaml: virtual_meters[0] (id=tr-01-rest): formula: no device with id 'kiln-9'",
    ),
    (
        "negative demand limit",
        lambda d: d["contract"].update(demand_limit_kw=-5),
        "plant.yaml: contract.demand_limit_kw: must be > 0, got -5",
    ),
    (
        "on-site supply without its generator",
        lambda d: d["devices"][4].update(supply={"origin": "onsite"}),
        "plant.yaml: devices[4] (id=steam-1): supply: origin onsite needs generated_by: the id of the device",
    ),
    (
        "purchased supply naming a generator",
        lambda d: d["devices"][4].update(supply={"origin": "purchased", "generated_by": "boiler-1"}),
        "plant.yaml: devices[4] (id=steam-1): supply: generated_by 'boiler-1' needs origin: onsite",
    ),
    (
        "on-site supply from an unknown device",
        lambda d: d["devices"][4].update(supply={"origin": "onsite", "generated_by": "boiler-9"}),
        "plant.yaml: devices[4] (id=steam-1): supply.generated_by: no device with id 'boiler-9'",
    ),
    (
        "on-site supply from a meter of the same carrier",
        lambda d: d["devices"][1].update(supply={"origin": "onsite", "generated_by": "tr-01"}),
        "plant.yaml: devices[1] (id=kiln-1): supply.generated_by: 'tr-01' meters electricity too, so it does not",
    ),
    (
        "MQTT source without fields",
        lambda d: d["devices"][2]["source"].update(fields={}),
        "plant.yaml: devices[2] (id=pv-01): source.fields: must map at least one quantity",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_mistake_is_reported_precisely(mutate, expected: str) -> None:
    data = base()
    mutate(data)
    errs = errors_of(data)
    assert any(e.startswith(expected) for e in errs), errs


def test_all_mistakes_reported_at_once() -> None:
    data = base()
    data["devices"][0]["source"]["port"] = 0
    data["devices"][1]["kind"] = "oven"
    data["site"]["timezone"] = "Nowhere/City"
    assert len(errors_of(data)) == 3


def test_yaml_syntax_error_has_line_and_column() -> None:
    with pytest.raises(PlantFileError) as info:
        parse_plant("site: {id: a\ndevices: [", source="p.yaml")
    assert info.value.errors[0].startswith("p.yaml:2:")
    assert "not valid YAML" in info.value.errors[0]


def test_missing_file_is_a_plant_error(tmp_path: Path) -> None:
    with pytest.raises(PlantFileError, match="cannot read"):
        load_plant(tmp_path / "nope.yaml")


def test_ratio_and_formula_parsing() -> None:
    assert parse_ratio("200/5") == 40.0
    assert parse_ratio("10000/100") == 100.0
    assert parse_ratio(1.5) == 1.5  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse_ratio("5/0")
    assert parse_formula("a - b + 2.5*c") == [(1.0, "a"), (-1.0, "b"), (2.5, "c")]
    assert parse_formula("tr-01 -kiln-1") == [(1.0, "tr-01"), (-1.0, "kiln-1")]
    # Ids may contain "-": without spaces it is one id, not a subtraction.
    assert parse_formula("a-b") == [(1.0, "a-b")]
    with pytest.raises(ValueError):
        parse_formula("a b")


def test_check_command_prints_every_error(tmp_path: Path) -> None:
    data = base()
    data["devices"][3]["source"]["port"] = 70000
    data["devices"][1]["kind"] = "oven"
    bad = tmp_path / "plant.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    assert "devices[3] (id=boiler-1): source.port: must be 1..65535, got 70000" in result.output
    assert "devices[1] (id=kiln-1): kind: must be one of" in result.output
    assert "2 error(s)" in result.output
    ok = CliRunner().invoke(app, ["check", str(EXAMPLE)])
    assert ok.exit_code == 0 and "OK" in ok.output
