"""The `plantcarbon` command: `check` here, and one subcommand group per part of the platform."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer
from rich.console import Console

from core.plant import PlantFileError, load_plant

app = typer.Typer(
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
    "demand": ("Demand: 15-minute demand, forecast and pre-alarm, demand charge.", ["metering.demand_cli"]),
    "dr": ("Demand response: events, baselines, tracking and verification reports.", ["metering.dr_cli"]),
    "carbon": (
        "Direct emissions of process plants (cement clinker): a month per emission unit, three boundaries.",
        ["metering.direct.cli"],
    ),
    "factors": ("Emission-factor registry: list, show and validate factor files.", ["metering.factors_cli"]),
    "tariffs": ("Time-of-use tariffs: list, show and validate tariff files.", ["metering.tariffs_cli"]),
    "dashboards": ("Grafana dashboards generated from the plant file.", ["dashboards.cli"]),
    "simulate": (
        "Simulated meters and plants, and the live demo of the whole pipeline.",
        ["simulators.cli", "simulators.demo"],
    ),
    "services": ("Install, build or start the local services (Mosquitto, InfluxDB).", ["core.harness.cli"]),
    "broker": ("MQTT broker access: one user per service and per edge, with topic ACLs.", ["core.broker_acl"]),
}


def _load_app(module: str) -> typer.Typer | None:
    try:
        sub: typer.Typer = importlib.import_module(module).app
        return sub
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None  # that part has no commands yet
        raise


def _register_parts() -> None:
    for name, (help_text, modules) in PARTS.items():
        apps = [a for a in (_load_app(m) for m in modules) if a is not None]
        if not apps:
            continue
        group = apps[0]
        for extra in apps[1:]:
            group.registered_commands.extend(extra.registered_commands)
            group.registered_groups.extend(extra.registered_groups)
        app.add_typer(group, name=name, help=help_text)


@app.command()
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


_register_parts()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
