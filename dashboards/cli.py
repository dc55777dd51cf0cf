"""`plantcarbon dashboards …`: build the provisioning files and push dashboards to Grafana."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dashboards.generate import Threshold, ThresholdFile
from dashboards.i18n import LANGS, Lang
from dashboards.provision import InfluxSource, PushError, dashboard_docs, push, write_provisioning
from plantcarbon_core import datafile
from plantcarbon_core import schema as sc
from plantcarbon_core.datafile import DataFileError
from plantcarbon_core.plant import Plant, PlantFileError, load_plant
from plantcarbon_core.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)
err = Console(stderr=True)

PlantOpt = Annotated[Path, typer.Option("--plant", "-p", help="The plant file (YAML).")]
LangOpt = Annotated[
    list[str] | None, typer.Option("--lang", help="Title language: en or zh; repeat for both. Default: en.")
]
ThresholdsOpt = Annotated[
    Path | None,
    typer.Option(
        "--thresholds",
        help="YAML with `thresholds:` rows (rule, device, quantity, condition, value).",
    ),
]


def _plant(path: Path) -> Plant:
    try:
        return load_plant(path)
    except PlantFileError as exc:
        for line in exc.errors:
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(1) from None


def _langs(values: list[str] | None) -> list[Lang]:
    out: list[Lang] = []
    for v in values or ["en"]:
        if v not in LANGS:
            err.print(f"--lang: must be one of {', '.join(LANGS)}, got {v!r}", markup=False)
            raise typer.Exit(2)
        out.append(v)  # type: ignore[arg-type,unused-ignore]  # checked against LANGS
    return out


def _thresholds(path: Path | None) -> list[Threshold]:
    if path is None:
        return []
    try:
        return datafile.load(path, ThresholdFile, prepare=lambda d: d or {}, source=str(path)).thresholds
    except DataFileError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None


@app.command()
def build(
    plant: PlantOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for provisioning files and dashboard JSON.")],
    lang: LangOpt = None,
    thresholds: ThresholdsOpt = None,
    influx_url: Annotated[str | None, typer.Option(help="InfluxDB URL as Grafana reaches it.")] = None,
    dashboards_path: Annotated[
        str | None, typer.Option(help="Where Grafana will find the dashboard JSON (default: OUT/dashboards).")
    ] = None,
) -> None:
    """Write the datasource file, the dashboard provider file and the dashboards' JSON."""
    p = _plant(plant)
    s = load_settings()
    source = InfluxSource(
        url=influx_url or s.influx_url, raw_db=s.influx_raw_bucket, metering_db=s.influx_metering_bucket
    )
    paths = write_provisioning(
        p, out, langs=_langs(lang), source=source, dashboards_path=dashboards_path, thresholds=_thresholds(thresholds)
    )
    for path in paths:
        print(path)


@app.command("push")
def push_cmd(
    url: Annotated[str, typer.Option("--url", help="Grafana's URL, e.g. http://127.0.0.1:3000.")],
    token: Annotated[
        str, typer.Option("--token", envvar="PLANTCARBON_GRAFANA_TOKEN", help="Grafana service-account token.")
    ],
    plant: Annotated[Path | None, typer.Option("--plant", "-p", help="Build from this plant file and push.")] = None,
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="Push the JSON files a `build --out DIR` wrote to DIR/dashboards.")
    ] = None,
    lang: LangOpt = None,
    thresholds: ThresholdsOpt = None,
) -> None:
    """Upload the dashboards to a running Grafana (folder plantcarbon, overwrite, stable uids)."""
    if (plant is None) == (from_dir is None):
        err.print("give either --plant or --from", markup=False)
        raise typer.Exit(2)
    if plant is not None:
        docs = dashboard_docs(_plant(plant), _langs(lang), _thresholds(thresholds))
    else:
        assert from_dir is not None
        files = sorted((from_dir / "dashboards").glob("*.json"))
        if not files:
            err.print(f"{from_dir / 'dashboards'}: no dashboard JSON files (run `dashboards build --out` first)")
            raise typer.Exit(1)
        docs = [json.loads(f.read_text("utf-8")) for f in files]
    try:
        uids = push(docs, url, token)
    except PushError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None
    for uid in uids:
        print(f"{url.rstrip('/')}/d/{uid}")


@app.command("verify")
def verify_cmd(
    plant: PlantOpt,
    lang: LangOpt = None,
    raw_db: Annotated[str | None, typer.Option(help="Bucket of the raw datasource (default: setting).")] = None,
    metering_db: Annotated[
        str | None, typer.Option(help="Bucket of the metering datasource (default: setting).")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="Evaluate the time ranges as of this ISO 8601 time (default: now).")
    ] = None,
) -> None:
    """Run every dashboard query against InfluxDB (PLANTCARBON_INFLUX_*) as Grafana would; list failures."""
    from datetime import UTC, datetime

    from dashboards.verify import verify
    from plantcarbon_core.influx import InfluxTarget

    p = _plant(plant)
    target = InfluxTarget.from_settings(load_settings())
    dbs = {sc.RAW_DS_UID: raw_db or target.raw_bucket, sc.METERING_DS_UID: metering_db or target.metering_bucket}
    when = datetime.fromisoformat(at).astimezone(UTC) if at else datetime.now(UTC)
    checks = verify(dashboard_docs(p, _langs(lang)), target, when, p.site.timezone, dbs)
    bad = [c for c in checks if c.problem]
    for c in bad:
        print(f"FAIL {c.dashboard} {c.where}: {c.problem}\n     {c.query}")
    print(f"{len(checks) - len(bad)} of {len(checks)} queries return data")
    if bad:
        raise typer.Exit(1)
