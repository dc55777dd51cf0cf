"""`plantcarbon factors list|show|validate`: browse and check emission-factor files."""

from __future__ import annotations

from pathlib import Path

import typer

from metering.carbon.factor_registry import FactorFileError, FactorNotFound, Registry, load_factor_file, load_registry

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


def _registry(files: list[Path]) -> Registry:
    try:
        return load_registry(files)
    except FactorFileError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None


@app.command("list")
def list_factors(
    kind: str | None = typer.Option(None, help="Only this kind, e.g. grid-average, fuel-combustion, tce."),
    region: str | None = typer.Option(None, help="Only this region, e.g. cn-east."),
    file: list[Path] = typer.Option([], "--file", "-f", help="Extra factor files (add or override)."),
) -> None:
    """List factors: id@version, kind, region, value and unit, validity."""
    reg = _registry(file)
    print(f"{'factor':<42} {'kind':<16} {'region':<13} {'value':>10} {'unit':<14} {'method':<9} valid")
    for f in reg:
        if (kind and f.kind != kind) or (region and f.region != region):
            continue
        print(
            f"{f.ref:<42} {f.kind:<16} {f.region:<13} {f.value:>10.6g} {f.unit:<14} {f.method:<9} "
            f"{f.valid_from}…{f.valid_to or ''}"
        )


@app.command()
def show(
    ref: str = typer.Argument(..., help="id@version, or id for its newest version."),
    file: list[Path] = typer.Option([], "--file", "-f", help="Extra factor files (add or override)."),
) -> None:
    """Show one factor with its source."""
    try:
        f = _registry(file).get(ref)
    except FactorNotFound as exc:
        typer.echo(str(exc), err=True)
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
    bad = 0
    for path in files:
        try:
            n = len(load_factor_file(path))
        except FactorFileError as exc:
            bad += len(exc.errors)
            for line in exc.errors:
                typer.echo(line, err=True)
            continue
        print(f"{path}: OK — {n} factor(s)")
    if bad:
        typer.echo(f"{bad} error(s)", err=True)
        raise typer.Exit(1)
