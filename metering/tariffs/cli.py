"""`plantcarbon tariffs`: list, show and validate time-of-use tariff files."""

from __future__ import annotations

from pathlib import Path

import typer

from metering.tariffs import BANDS, TariffError, TariffFileError, builtin_tariff_paths, load_tariff, load_tariff_file
from metering.tariffs.engine import band_table
from plantcarbon_core.datafile import Problem

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@app.command("list")
def list_() -> None:
    """List the built-in tariffs: id, region, versions and the latest effective date."""
    for p in builtin_tariff_paths():
        t = load_tariff_file(p)
        latest = t.versions[-1].effective_from
        print(f"{t.id:28} {t.region:6} {len(t.versions)} version(s), latest from {latest}  {t.name}")


@app.command()
def show(
    tariff_id: str = typer.Argument(..., help="Tariff id, e.g. cn-js-large-industry."),
    month: int = typer.Option(7, min=1, max=12, help="Month whose daily band table to print."),
    day_type: str = typer.Option("workday", help="workday | weekend | holiday."),
) -> None:
    """Show a tariff's versions, sources, prices per band and the hour-by-hour bands of one month."""
    try:
        t = load_tariff(tariff_id)
    except (TariffError, TariffFileError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    print(f"{t.id}: {t.name} ({t.customer_class}), {t.currency}/{t.energy_unit}")
    for v in t.versions:
        print(f"\nversion effective from {v.effective_from} — {v.source.document}")
        if v.source.url:
            print(f"  {v.source.url}")
        season = v.season_of(month)
        table = band_table(v, month, day_type)
        used = [b for b in BANDS if b in set(table)]
        print("  prices: " + ", ".join(f"{b} {v.price_of(b, month):.4f}" for b in used))
        print(f"  month {month} ({season.name}, {day_type}):")
        for h in range(24):
            print(
                f"    {h:02d}:00 {table[h * 60]}"
                + (f" / {table[h * 60 + 30]} from :30" if table[h * 60 + 30] != table[h * 60] else "")
            )
        if v.price_note:
            print(f"  note: {v.price_note}")


@app.command()
def validate(files: list[Path] = typer.Argument(..., help="Tariff YAML files to check.")) -> None:
    """Validate tariff files and print every mistake with its place."""
    bad = 0
    for f in files:
        try:
            t = load_tariff_file(f)
            if t.id != f.stem:
                msg = f"must equal the file name {f.stem!r}, got {t.id!r}"
                raise TariffFileError([Problem(f.name, msg, field="id")])
        except TariffFileError as exc:
            bad += 1
            for line in exc.errors:
                typer.echo(line, err=True)
            continue
        print(f"{f}: OK — {t.id}, {len(t.versions)} version(s)")
    if bad:
        raise typer.Exit(1)
