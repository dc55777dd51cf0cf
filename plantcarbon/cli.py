"""The `plantcarbon` command: `check` here, and one subcommand group per part of the platform.

`plantcarbon <part> …` imports only that part's modules: the edge agent on a small gateway
does not pay for pandas and the InfluxDB client (about 170 MB of memory) it never uses.
`from plantcarbon.cli import app` gives the command with every part.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from plantcarbon_core.plant import PlantFileError, load_plant

_app = typer.Typer(
    name="plantcarbon",
    help=(
        "IoT plant energy telemetry and carbon metering: read meters at the edge, ingest into "
        "InfluxDB, meter energy, CO2, demand and cost, and build Grafana dashboards."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

# Each part owns its subcommands as Typer apps named `app`; a group may gather the commands of
# several modules (e.g. `metering` = interval engine commands + the API's `serve`).
PARTS: dict[str, tuple[str, list[str]]] = {
    "edge": ("Edge agent: poll Modbus and MQTT meters and publish readings to the broker.", ["edge.cli"]),
    "ingest": ("Ingest: move readings from the MQTT broker into InfluxDB.", ["ingest.cli"]),
    "metering": (
        "Metering: energy, tce, CO2 per interval; recompute, explain; the API service.",
        ["metering.cli", "metering.api.cli"],
    ),
    "demand": ("Demand: 15-minute demand, forecast and pre-alarm, demand charge.", ["metering.demand.cli"]),
    "dr": ("Demand response: events, baselines, tracking and verification reports.", ["metering.dr.cli"]),
    "carbon": (
        "Direct emissions of process plants (cement clinker): a month per emission unit, three boundaries.",
        ["metering.direct.cli"],
    ),
    "compliance": (
        "The energy manager's month: review, approve and lock, revise, file; the monthly filing workbook.",
        ["metering.compliance.cli"],
    ),
    "register": (
        "Metering-device register (calibration, GB 17167 classes) and the data-quality control plan.",
        ["metering.register.cli"],
    ),
    "factors": ("Emission-factor registry: list, show and validate factor files.", ["metering.carbon.cli"]),
    "tariffs": ("Time-of-use tariffs: list, show and validate tariff files.", ["metering.tariffs.cli"]),
    "dashboards": ("Grafana dashboards generated from the plant file.", ["dashboards.cli"]),
    "simulate": (
        "Simulated meters and plants, and the live demo of the whole pipeline.",
        ["simulators.cli", "plantcarbon.demo"],
    ),
    "services": ("Install, build or start the local services (Mosquitto, InfluxDB).", ["harness.cli"]),
    "broker": (
        "MQTT broker access: one user per service and per edge, with topic ACLs.",
        ["plantcarbon_core.broker_acl"],
    ),
}


def _load_app(module: str) -> typer.Typer | None:
    try:
        sub: typer.Typer = importlib.import_module(module).app
        return sub
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None  # that part has no commands yet
        if exc.name == "harness":
            return None  # the dev harness is not in the runtime wheel: the demo needs a source install
        raise


_registered: set[str] = set()


def _register_parts(only: str | None = None) -> None:
    for name, (help_text, modules) in PARTS.items():
        if name in _registered or (only is not None and name != only):
            continue
        _registered.add(name)
        apps = [a for a in (_load_app(m) for m in modules) if a is not None]
        if not apps:
            continue
        group = apps[0]
        for extra in apps[1:]:
            group.registered_commands.extend(extra.registered_commands)
            group.registered_groups.extend(extra.registered_groups)
        _app.add_typer(group, name=name, help=help_text)


@_app.command()
def check(plant: Path = typer.Argument(..., help="The plant file (YAML) to validate.")) -> None:
    """Validate a plant file and print every mistake at once."""
    console = Console(stderr=True)
    try:
        p = load_plant(plant)
    except PlantFileError as exc:
        for line in exc.errors:
            console.print(line, markup=False, highlight=False)
        console.print(f"{len(exc.errors)} error(s) in {plant}", style="bold red")
        raise typer.Exit(1) from None
    n_src = sum(1 for d in p.devices if d.source is not None)
    print(
        f"{plant}: OK — site {p.site.id}, {len(p.devices)} devices ({n_src} metered), "
        f"{len(p.virtual_meters)} virtual meters"
    )


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole command, every part registered
        _register_parts()
        return _app
    raise AttributeError(name)


def main() -> None:
    part = sys.argv[1] if len(sys.argv) > 1 else None
    _register_parts(part if part in PARTS else None)
    _app()


if __name__ == "__main__":
    main()
