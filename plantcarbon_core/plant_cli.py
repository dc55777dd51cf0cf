"""A plant file loaded for a command: its mistakes printed one per line on stderr, then a clean exit."""

from __future__ import annotations

from pathlib import Path

import typer

from plantcarbon_core.plant import Plant, PlantFileError, load_plant


def load_plant_or_exit(path: Path, code: int = 1) -> Plant:
    try:
        return load_plant(path)
    except PlantFileError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(code) from None
