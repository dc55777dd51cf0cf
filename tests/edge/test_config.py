"""Edge plant-file checks: unknown or broken profiles, RS-485 line conflicts, timeouts, MQTT maps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from edge.config import check_plant, edge_errors, frame_time_s
from edge.plan import plan_reads
from plantcarbon.cli import app
from plantcarbon_core.plant import PlantFileError, Workarounds, parse_plant
from plantcarbon_core.profile import load_profile

SITE = {"id": "plant-a", "name": "A"}


def rtu(dev_id: str, unit: int, **kw: object) -> dict:
    src = {"protocol": "modbus-rtu", "serial_port": "/dev/ttyUSB0", "unit": unit, "profile": "eastron-sdm630", **kw}
    return {"id": dev_id, "name": dev_id, "kind": "motor", "carrier": "electricity", "source": src}


def plant_text(devices: list[dict]) -> str:
    return yaml.safe_dump({"site": SITE, "devices": devices}, sort_keys=False)


def errors(devices: list[dict], **kw: object) -> list[str]:
    return edge_errors(parse_plant(plant_text(devices)), **kw)  # type: ignore[arg-type]


def test_example_plant_is_clean_at_the_edge() -> None:
    plant = parse_plant((Path(__file__).parents[2] / "examples" / "plant-a.yaml").read_text())
    assert edge_errors(plant) == []


def test_unknown_profile_names_the_device_and_lists_known_profiles() -> None:
    dev = {
        "id": "x",
        "name": "x",
        "kind": "motor",
        "carrier": "electricity",
        "source": {"protocol": "modbus-tcp", "host": "127.0.0.1", "profile": "foo"},
    }
    got = errors([rtu("ok-1", 1), dev])
    assert len(got) == 1
    assert got[0].startswith("plant.yaml: devices[1] (id=x): source.profile: unknown meter profile 'foo' (known: ")
    assert "eastron-sdm630" in got[0]


def test_profile_with_overlapping_registers_is_reported_where_it_is_used(tmp_path: Path) -> None:
    (tmp_path / "acme-x1.yaml").write_text(
        yaml.safe_dump(
            {
                "id": "acme-x1",
                "manufacturer": "Acme",
                "model": "X1",
                "manual": {"title": "X1", "version": "1", "table": "3"},
                "registers": [{"quantity": "p_kw", "address": 10}, {"quantity": "q_kvar", "address": 11}],
            }
        )
    )
    got = errors([rtu("m-1", 1, profile="acme-x1")], profile_dirs=[tmp_path])
    assert got == [
        "plant.yaml: devices[0] (id=m-1): source.profile: 'acme-x1' is broken: "
        "acme-x1.yaml: registers 'p_kw' and 'q_kvar' overlap at holding address 11"
    ]


def test_serial_line_conflicts_and_bad_settings() -> None:
    got = errors(
        [
            rtu("a", 1),
            rtu("b", 1),  # same unit on the same line
            rtu("c", 2, baudrate=19200),  # one line, two baud rates
            rtu("d", 3, bytesize=7),  # 7N1: 9 bits a character
        ]
    )
    assert got == [
        "plant.yaml: devices[1] (id=b): source.unit: unit 1 on /dev/ttyUSB0 is already device 'a'",
        "plant.yaml: devices[2] (id=c): source.baudrate: 19200 differs from 9600 of devices[0] (id=a) on the same serial port /dev/ttyUSB0; one RS-485 line has one setting",
        "plant.yaml: devices[3] (id=d): source: 7 data bits, no parity and 1 stop bit is 9 bits a character; Modbus RTU needs 11 (use parity E/O or stopbits 2)",
        "plant.yaml: devices[3] (id=d): source.bytesize: 7 differs from 8 of devices[0] (id=a) on the same serial port /dev/ttyUSB0; one RS-485 line has one setting",
    ]


def test_timeout_shorter_than_the_answer_takes_on_the_line() -> None:
    # SDM630's largest read at 1200 baud 8N1 takes (2 × registers + 5) bytes × 10 bits / 1200 baud.
    longest = max(b.count for b in plan_reads(load_profile("eastron-sdm630"), Workarounds()))
    need = (2 * longest + 5) * 10 / 1200
    assert need > 0.3
    got = errors([rtu("slow", 1, baudrate=1200, timeout_s=0.3)])
    assert got == [
        f"plant.yaml: devices[0] (id=slow): source.timeout_s: 0.3 s is shorter than the {need:.2f} s a {longest}-register "
        "answer takes at 1200 baud (raise timeout_s or lower workarounds.max_registers_per_request)"
    ]
    assert errors([rtu("slow", 1, baudrate=1200, timeout_s=0.3, workarounds={"max_registers_per_request": 8})]) == []


def test_frame_time_counts_parity_and_stop_bits() -> None:
    src = parse_plant(plant_text([rtu("a", 1, parity="E", stopbits=1)])).devices[0].source
    assert frame_time_s(src, 125) == pytest.approx((2 * 125 + 5) * 11 / 9600)  # type: ignore[arg-type]


def test_mqtt_source_mistakes() -> None:
    dev = {
        "id": "pv",
        "name": "pv",
        "kind": "pv",
        "carrier": "electricity",
        "source": {
            "protocol": "mqtt",
            "topic": "tele/#/x",
            "timestamp": "a..b",
            "fields": {"p_kwh_typo": {"path": "ENERGY.Power"}, "p_kw": {"path": "ENERGY..Power", "scale": 0}},
        },
    }
    assert errors([dev]) == [
        "plant.yaml: devices[0] (id=pv): source.fields.p_kwh_typo: unknown quantity 'p_kwh_typo' (see plantcarbon_core/quantities.yaml)",
        "plant.yaml: devices[0] (id=pv): source.fields.p_kw.path: must be a dotted JSON path like 'ENERGY.Power', got 'ENERGY..Power'",
        "plant.yaml: devices[0] (id=pv): source.fields.p_kw.scale: must not be 0",
        "plant.yaml: devices[0] (id=pv): source.topic: not a valid MQTT topic filter, got 'tele/#/x'",
        "plant.yaml: devices[0] (id=pv): source.timestamp: must be 'arrival' or a dotted JSON path, got 'a..b'",
    ]


def test_check_plant_raises_with_every_line() -> None:
    with pytest.raises(PlantFileError) as exc:
        check_plant(parse_plant(plant_text([rtu("a", 1), rtu("b", 2, profile="nope")])))
    assert len(exc.value.errors) == 1 and "unknown meter profile 'nope'" in exc.value.errors[0]


def test_cli_prints_edge_errors_before_connecting(tmp_path: Path) -> None:
    f = tmp_path / "plant.yaml"
    f.write_text(plant_text([rtu("a", 1, profile="nope")]))
    result = CliRunner().invoke(app, ["edge", "read", "--plant", str(f), "--device", "a"])
    assert result.exit_code == 2
    assert "plant.yaml: devices[0] (id=a): source.profile: unknown meter profile 'nope'" in result.output
