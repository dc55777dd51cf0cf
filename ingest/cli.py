"""`plantcarbon ingest …`: run the MQTT → InfluxDB ingest service."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import typer

from ingest.service import IngestConfig, IngestService, default_client_id, delete_session
from plantcarbon_core.liveness import serve
from plantcarbon_core.plant import Plant
from plantcarbon_core.plant_cli import load_plant_or_exit
from plantcarbon_core.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


def _load_plants(paths: list[Path]) -> list[Plant]:
    return [load_plant_or_exit(p, code=2) for p in paths]


@app.command()
def run(
    plant: list[Path] = typer.Option(
        [],
        "--plant",
        "-p",
        metavar="FILE",
        help="Plant file(s) giving area/kind tags; devices not listed go to 'unregistered'.",
    ),
    client_id: str = typer.Option(
        "", help="MQTT client id; keep it stable per instance so the broker keeps its session (default ingest-<host>)."
    ),
    share_group: str = typer.Option("ingest", help="MQTT 5 shared-subscription group; '' for a plain subscription."),
    mqtt_v311: bool = typer.Option(False, "--mqtt-v311", help="Speak MQTT 3.1.1 (no shared subscription)."),
    batch_lines: int = typer.Option(5000, min=1, help="Write when a batch holds this many lines …"),
    batch_age: float = typer.Option(1.0, min=0.01, help="… or when its oldest message is this many seconds old."),
    metrics_port: int = typer.Option(
        9108, min=0, max=65535, help="Prometheus /metrics and /healthz on 127.0.0.1:PORT; 0 = off."
    ),
    max_clock_skew: float = typer.Option(
        300.0, min=0, help="Refuse samples stamped more than this many seconds after now (dead letter future_ts)."
    ),
    dlq_file: Path | None = typer.Option(None, help="Dead-letter JSONL file (default under PLANTCARBON_DATA_DIR)."),
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING or ERROR."),
) -> None:
    """Move readings from the broker into InfluxDB until SIGTERM/Ctrl-C, then flush and stop.

    Broker and InfluxDB come from PLANTCARBON_* settings (MQTT URL, credentials, TLS files,
    InfluxDB URL/org/token/bucket).
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plants = _load_plants(plant)
    settings = load_settings()
    cfg = IngestConfig.from_settings(
        settings,
        client_id or default_client_id(),
        plants,
        share_group=share_group or None,
        protocol="3.1.1" if mqtt_v311 else "5",
        batch_max_lines=batch_lines,
        batch_max_age_s=batch_age,
        max_clock_skew_s=max_clock_skew,
    )
    if dlq_file is not None:
        cfg.dlq_file = dlq_file
    try:
        service = IngestService(cfg)
    except ValueError as exc:
        typer.echo(f"plantcarbon ingest: {exc}", err=True)
        raise typer.Exit(2) from None
    if metrics_port:
        serve(service.liveness, service.metrics.registry, metrics_port)
    done = threading.Event()

    def _stop(*_: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.start()
    logging.getLogger("ingest").info(
        "ingest %s: %s → %s bucket %s", cfg.client_id, cfg.mqtt_url, cfg.target.url, cfg.target.raw_bucket
    )
    done.wait()
    service.stop()


@app.command()
def retire(
    client_id: str = typer.Option(..., help="The instance to retire (its MQTT client id)."),
    plant: list[Path] = typer.Option([], "--plant", "-p", metavar="FILE", help="Plant file(s), as for `run`."),
    share_group: str = typer.Option("ingest", help="Its shared-subscription group."),
    idle: float = typer.Option(5.0, min=0.5, help="Seconds without messages that mean its queue is drained."),
) -> None:
    """Drain and delete an ingest instance's broker session, so the group stops sending it a share.

    A stopped instance keeps a persistent session, and the broker keeps routing its share of
    the group's messages to it. This command takes its place: leaves the group, writes what
    the broker had queued for it, then deletes the session.
    """
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plants = _load_plants(plant)
    cfg = IngestConfig.from_settings(load_settings(), client_id, plants, share_group=share_group or None)
    service = IngestService(cfg).start()
    if not service.connected.wait(30):
        raise typer.Exit(1)
    service.leave_group()
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < idle:
        total = service.handled
        if total != seen or service.pipeline_messages():
            seen, quiet_since = total, time.monotonic()
        time.sleep(0.2)
    service.stop()
    delete_session(cfg)
    typer.echo(f"{client_id}: drained {seen} message(s) and deleted its session")
