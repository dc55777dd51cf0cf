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

# Each part owns its subcommands in `<part>/cli.py` as a Typer app named `app`.
PARTS: dict[str, str] = {
    "edge": "Edge agent: poll Modbus and MQTT meters and publish readings to the broker.",
    "ingest": "Ingest: move readings from the MQTT broker into InfluxDB.",
    "metering": "Metering: energy, tce, CO2, demand and cost per interval; the API service.",
    "dashboards": "Grafana dashboards generated from the plant file.",
    "simulate": "Simulated meters and plants for demos, tests and benchmarks.",
    "services": "Start, build or install the local services (Mosquitto, InfluxDB).",
    "factors": "Emission-factor registry: list, show and validate factor files.",
    "tariffs": "Time-of-use tariffs: list, show and validate tariff files.",
}
_MODULES: dict[str, str] = {
    "edge": "edge.cli",
    "ingest": "ingest.cli",
    "metering": "metering.cli",
    "dashboards": "dashboards.cli",
    "simulate": "simulators.cli",
    "services": "core.harness.cli",
    "factors": "metering.factors_cli",
    "tariffs": "metering.tariffs_cli",
}


def _register_parts() -> None:
    for name, module in _MODULES.items():
        try:
            sub = importlib.import_module(module).app
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue  # that part has no commands yet
        app.add_typer(sub, name=name, help=PARTS[name])


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
