"""The main job: `plantcarbon simulate demo` runs the small plant live through every part, then stops cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _last(label: str, text: str) -> float:
    values = re.findall(rf"{re.escape(label)}: ([\d,.]+)", text)
    assert values, f"no {label!r} in the demo's output:\n{text[-3000:]}"
    return float(values[-1].replace(",", ""))


def test_demo_runs_the_whole_pipeline_and_stops_cleanly(tmp_path: Path) -> None:
    # No --plain: the output is a pipe, so the demo must print plain lines by itself (issue 14, defect 8).
    out = subprocess.run(
        [sys.executable, "-m", "plantcarbon", "simulate", "demo", "--scenario", "small", "--duration", "40",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "1000"},  # one unwrapped line per refresh
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "stopped cleanly" in text
    assert re.search(r"history: 7 days seeded — [\d,]+ readings, [\d,]+ interval points", text), text[-3000:]
    # Readings flowed from the simulated meters through edge, broker and ingest into InfluxDB …
    assert _last("edge polls ok", text) > 0
    assert _last("energy since start", text) > 0
    assert _last("site power (main meters)", text) > 0
    # … and every part kept running: a part that dies ends the demo with "demo failed".
    assert "demo failed" not in text
    assert (tmp_path / "grafana" / "provisioning" / "datasources" / "plantcarbon.yaml").exists()
    assert any((tmp_path / "logs").glob("*.log"))
