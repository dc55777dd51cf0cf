"""`plantcarbon factors list|show|validate`: browse and check emission-factor files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from metering.factors import FactorFileError, FactorNotFound, Registry, load_factor_file, load_registry

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


def _registry(files: list[Path]) -> Registry:
    try:
        return load_registry(files)
    except FactorFileError as exc:
        err = Console(stderr=True)
        for line in exc.errors:
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(1) from None


@app.command("list")
def list_factors(
    kind: str | None = typer.Option(None, help="Only this kind, e.g. grid-average, fuel-combustion, tce."),
    region: str | None = typer.Option(None, help="Only this region, e.g. cn-east."),
    file: list[Path] = typer.Option([], "--file", "-f", help="Extra factor files (add or override)."),
) -> None:
    """List factors: id@version, kind, region, value and unit, validity."""
    reg = _registry(file)
    table = Table(show_lines=False)
    for col in ("factor", "kind", "region", "value", "unit", "valid", "method"):
        table.add_column(col)
    for f in reg:
        if (kind and f.kind != kind) or (region and f.region != region):
            continue
        table.add_row(f.ref, f.kind, f.region, f"{f.value:.6g}", f.unit, f"{f.valid_from}…{f.valid_to or ''}", f.method)
    Console().print(table)


@app.command()
def show(
    ref: str = typer.Argument(..., help="id@version, or id for its newest version."),
    file: list[Path] = typer.Option([], "--file", "-f", help="Extra factor files (add or override)."),
) -> None:
    """Show one factor with its source."""
    try:
        f = _registry(file).get(ref)
    except FactorNotFound as exc:
        Console(stderr=True).print(str(exc), markup=False)
        raise typer.Exit(1) from None
    print(f"{f.ref}  {f.name or ''}")
    print(f"  kind {f.kind}, carrier {f.carrier}{', fuel ' + f.fuel if f.fuel else ''}, region {f.region}")
    print(f"  value {f.value:.6g} {f.unit} ({f.gas}), method {f.method}")
    print(f"  valid {f.valid_from} … {f.valid_to or 'open'}")
    if f.parameters:
        p = f.parameters
        print(
            f"  parameters: NCV {p.ncv} {p.ncv_unit}, carbon content {p.carbon_content_tc_per_gj} tC/GJ, "
            f"oxidation {p.oxidation} → × 44/12"
        )
    print(f"  source: {f.source.document}")
    print(f"          {f.source.table}")
    if f.source.url:
        print(f"          {f.source.url}")
    if f.source.note:
        print(f"  note: {f.source.note}")


@app.command()
def validate(files: list[Path] = typer.Argument(..., help="Factor files (YAML) to check.")) -> None:
    """Check factor files and print every mistake with its place."""
    err = Console(stderr=True)
    bad = 0
    for path in files:
        try:
            n = len(load_factor_file(path))
        except FactorFileError as exc:
            bad += len(exc.errors)
            for line in exc.errors:
                err.print(line, markup=False, highlight=False)
            continue
        print(f"{path}: OK — {n} factor(s)")
    if bad:
        err.print(f"{bad} error(s)", style="bold red")
        raise typer.Exit(1)
