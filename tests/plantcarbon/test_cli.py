"""The `plantcarbon` command as the runtime wheel installs it: every part's group, no harness."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run the command with `harness` unimportable, as in an install from the wheel (which leaves it out).
WITHOUT_HARNESS = """
import sys
from importlib.abc import MetaPathFinder


class NoHarness(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "harness" or name.startswith("harness."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoHarness())
sys.argv = ["plantcarbon", *sys.argv[1:]]
from plantcarbon.cli import main

main()
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_HARNESS, *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def _commands(help_text: str) -> set[str]:
    """The command names listed under "Commands:" in a help page."""
    listed = help_text.split("Commands:", 1)[1].splitlines()
    return {line.split()[0] for line in listed if line.startswith("  ") and line.strip()}


def test_the_wheel_ships_the_runtime_packages_and_not_the_harness() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert "harness" not in packages and "core" not in packages
    assert {"plantcarbon", "plantcarbon_core", "edge", "ingest", "metering", "dashboards", "simulators"} <= set(packages)
    assert pyproject["project"]["scripts"]["plantcarbon"] == "plantcarbon.cli:main"


def test_without_the_harness_every_part_but_services_and_the_demo_is_there() -> None:
    res = _run("--help")
    assert res.returncode == 0, res.stderr
    parts = {"check", "edge", "ingest", "metering", "demand", "dr", "carbon", "compliance", "register", "factors", "tariffs", "dashboards"}
    assert _commands(res.stdout) == parts | {"simulate", "broker"}  # no "services"
    res = _run("simulate", "--help")
    assert res.returncode == 0, res.stderr
    assert _commands(res.stdout) == {"scenarios", "history", "run", "kiln"}  # no "demo"


def test_python_dash_m_plantcarbon_is_the_command() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "plantcarbon", "check", str(ROOT / "examples" / "plant-a.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "plant-a.yaml: OK — site plant-a" in res.stdout
