"""`plantcarbon edge read` (the commissioning tool) and the agent's Prometheus endpoint, against real servers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from plantcarbon.cli import app
from tests.edge.conftest import image_for, make_plant, modbus_device, running_agent, truth_for
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.integration


def write_plant(tmp_path: Path, devices: list[dict]) -> Path:
    f = tmp_path / "plant.yaml"
    f.write_text(yaml.safe_dump({"site": {"id": "cli", "name": "CLI"}, "devices": devices}))
    return f


def test_edge_read_json_prints_values_with_units_and_bad_registers(modbus_server, tmp_path: Path, sdm630) -> None:
    truth = truth_for(sdm630)
    server = modbus_server({3: image_for(sdm630, truth)})
    server.set_words(3, "input", 70, [0xFFFF, 0xFFFF])  # f_hz not available
    plant = write_plant(tmp_path, [modbus_device("m-3", server.port, unit=3, ratios={"ct": "100/5"})])
    result = CliRunner().invoke(app, ["edge", "read", "--plant", str(plant), "--device", "m-3", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["values"]["p_kw"] == {"value": pytest.approx(truth["p_kw"], rel=1e-6), "unit": "kW"}
    assert doc["values"]["v_l1_v"]["unit"] == "V"
    assert doc["bad"] == {"f_hz": "not available (NaN)"}
    table = CliRunner().invoke(app, ["edge", "read", "--plant", str(plant), "--device", "m-3"])
    assert table.exit_code == 0 and "e_imp_kwh" in table.output and "bad: not available (NaN)" in table.output
    assert server.writes == 0


def test_edge_read_of_a_dead_device_says_why(tmp_path: Path) -> None:
    from harness.process import free_port

    plant = write_plant(tmp_path, [modbus_device("gone", free_port(), timeout_s=0.3)])
    result = CliRunner().invoke(app, ["edge", "read", "--plant", str(plant), "--device", "gone", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {"device": "gone", "error": "no connection"}
    unknown = CliRunner().invoke(app, ["edge", "read", "--plant", str(plant), "--device", "nope"])
    assert unknown.exit_code == 2 and "no device 'nope'" in unknown.output


async def test_prometheus_endpoint_reports_polls_outbox_and_latency(
    mosquitto, modbus_server, tmp_path: Path, sdm630
) -> None:
    server = modbus_server({1: image_for(sdm630, truth_for(sdm630), fill_gaps=True)})
    plant = make_plant([modbus_device("m-1", server.port, interval_s=0.2)], site="prom")
    async with running_agent(plant, mosquitto, tmp_path, metrics_port=0) as agent:
        m = agent.metrics
        # Until three polls are published (was a fixed 1.5 s sleep: longer than needed when idle, short when loaded).
        await wait_until_async(
            lambda: (
                m.value("pc_edge_polls_total", result="ok") >= 3
                and m.value("pc_edge_publish_latency_seconds_count") >= 3
            ),
            30,
        )
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{agent.metrics_port}/metrics")).text
    lines = {ln.split(" ")[0]: float(ln.split(" ")[1]) for ln in text.splitlines() if ln and not ln.startswith("#")}
    assert lines['pc_edge_polls_total{result="ok"}'] >= 3
    assert lines["pc_edge_publish_latency_seconds_count"] >= 3
    assert "pc_edge_outbox_samples" in lines and 'pc_edge_poll_lateness_seconds_bucket{le="0.25"}' in lines
    # SDM630's plan is 4 reads (0..17, 52..79, 200..205, 224..225); the gaps are filled here.
    assert lines["pc_edge_modbus_requests_total"] == 4 * lines['pc_edge_polls_total{result="ok"}']


@pytest.mark.parametrize("variable", ["PLANTCARBON_PROFILE_DIRS", "PLANTCARBON_EDGE_PROFILE_DIRS"])
def test_the_edge_reads_the_profile_folders_every_part_reads(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge.cli import EdgeSettings
    from plantcarbon_core.profile import configured_profile_dirs

    monkeypatch.delenv("PLANTCARBON_PROFILE_DIRS", raising=False)
    monkeypatch.delenv("PLANTCARBON_EDGE_PROFILE_DIRS", raising=False)
    monkeypatch.setenv(variable, json.dumps([str(tmp_path)]))
    assert EdgeSettings().profile_dirs == configured_profile_dirs() == [tmp_path]
