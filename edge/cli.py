"""`plantcarbon edge …`: run the agent, or read one device once for commissioning."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import typer
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Table

from edge.agent import Agent, AgentOptions
from edge.config import check_plant, edge_id_error, find_profile
from edge.modbus import Link, ModbusDevice, link_key, make_client
from edge.publish import BrokerConfig
from plantcarbon_core.plant import ModbusRtuSource, ModbusTcpSource, MqttSource, Plant, PlantFileError, load_plant
from plantcarbon_core.profile import configured_profile_dirs
from plantcarbon_core.quantities import registry
from plantcarbon_core.settings import load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


class EdgeSettings(BaseSettings):
    """Edge settings from PLANTCARBON_EDGE_* variables; the command-line options override them."""

    model_config = SettingsConfigDict(env_prefix="PLANTCARBON_EDGE_", extra="ignore")

    id: str = Field(default_factory=lambda: _default_edge_id())
    outbox: Path | None = None  # default: <data_dir>/edge/<site>-<edge>.outbox.sqlite
    outbox_max_mb: float = Field(default=1024, gt=0)
    metrics_port: int = Field(default=9108, ge=0, le=65535)  # 0: a free port
    summary_s: float = Field(default=60, ge=0)
    # PLANTCARBON_PROFILE_DIRS (or the older PLANTCARBON_EDGE_PROFILE_DIRS): the folders every part reads.
    profile_dirs: list[Path] = Field(default_factory=configured_profile_dirs)
    protocol: str = Field(default="auto", pattern=r"^(auto|5|3\.1\.1)$")


def _default_edge_id() -> str:
    name = re.sub(r"[^a-z0-9_-]", "-", socket.gethostname().lower()).strip("-_") or "edge"
    return name[:63]


def _load(plant_path: Path, profile_dirs: list[Path]) -> Plant:
    console = Console(stderr=True)
    try:
        plant = load_plant(plant_path)
        return check_plant(plant, plant_path.name, profile_dirs)
    except PlantFileError as exc:
        for line in exc.errors:
            console.print(line, markup=False, highlight=False)
        console.print(f"{len(exc.errors)} error(s) in {plant_path}", style="bold red")
        raise typer.Exit(2) from None


def broker_config(protocol: str = "auto") -> BrokerConfig:
    return BrokerConfig.from_settings(load_settings(), protocol)


@app.command()
def run(
    plant: Path = typer.Option(..., "--plant", help="The plant file (YAML)."),
    edge_id: str | None = typer.Option(None, "--edge-id", help="This agent's id in topics [env PLANTCARBON_EDGE_ID]."),
    outbox: Path | None = typer.Option(None, help="Outbox SQLite file [env PLANTCARBON_EDGE_OUTBOX]."),
    outbox_max_mb: float | None = typer.Option(None, help="Disk cap of the outbox; the oldest data goes first."),
    metrics_port: int | None = typer.Option(None, help="Prometheus port on 127.0.0.1 (0: a free one)."),
    log_level: str = typer.Option("INFO", help="DEBUG, INFO, WARNING or ERROR."),
    processes: int = typer.Option(
        1, min=1, max=64, help="Agent processes, each polling a share of the links with its own outbox."
    ),
    group: str | None = typer.Option(None, hidden=True, help="i/N: only the links of share i (set by --processes)."),
) -> None:
    """Poll every device of the plant file and publish readings to the broker, storing them first."""
    es = EdgeSettings()
    eid = edge_id or es.id
    # Before the first poll: with a bad id ingest would refuse every batch after the outbox deleted it.
    ids = [eid] if processes == 1 else [worker_id(eid, i) for i in range(processes)]
    for one in ids:
        if (problem := edge_id_error(one)) is not None:
            src = "--edge-id" if edge_id else "PLANTCARBON_EDGE_ID" if "id" in es.model_fields_set else "the host name"
            typer.echo(f"{problem} (from {src}{', with --processes' if processes > 1 else ''})", err=True)
            raise typer.Exit(2)
    p = _load(plant, es.profile_dirs)
    if processes > 1:
        settings = load_settings()
        base = outbox or es.outbox or settings.data_dir / "edge" / f"{p.site.id}-{eid}.outbox.sqlite"
        port = metrics_port if metrics_port is not None else es.metrics_port
        raise typer.Exit(supervise(plant, eid, base, port, processes, outbox_max_mb, log_level))
    if group is not None:
        p = share_of(p, group)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pymodbus logs every failed connect; the agent counts and logs those once per kind itself.
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    settings = load_settings()
    options = AgentOptions(
        edge_id=eid,
        outbox=outbox or es.outbox or settings.data_dir / "edge" / f"{p.site.id}-{eid}.outbox.sqlite",
        outbox_max_bytes=int((outbox_max_mb or es.outbox_max_mb) * 1024 * 1024),
        prefix=settings.mqtt_prefix,
        metrics_port=metrics_port if metrics_port is not None else es.metrics_port,
        summary_s=es.summary_s,
        profile_dirs=es.profile_dirs,
    )
    asyncio.run(_run(p, broker_config(es.protocol), options))


def worker_id(edge_id: str, i: int) -> str:
    """The edge id of agent process `i` under `--processes`: its status topic and will are its own."""
    return f"{edge_id}-p{i}"


def share_of(plant: Plant, group: str) -> Plant:
    """The devices of share i of N: whole links (a link's devices share one connection), dealt
    round robin in link order; MQTT devices go to share 0."""
    i, n = (int(x) for x in group.split("/"))
    links = sorted({link_key(s) for d in plant.devices if isinstance(s := d.source, ModbusTcpSource | ModbusRtuSource)})
    share = {k for j, k in enumerate(links) if j % n == i}
    keep = [
        d
        for d in plant.devices
        if (isinstance(s := d.source, ModbusTcpSource | ModbusRtuSource) and link_key(s) in share)
        or (isinstance(d.source, MqttSource) and i == 0)
    ]
    return plant.model_copy(update={"devices": keep})


def supervise(
    plant: Path, edge_id: str, outbox: Path, metrics_port: int, n: int, outbox_max_mb: float | None, log_level: str
) -> int:
    """Run `n` agent processes, one per share of the links, each with its own outbox file
    (`<outbox>.p<i>`), edge id (`<id>-p<i>`) and metrics port (`port + i`, or a free one).
    SIGTERM/SIGINT stop them all; if one exits, the others are stopped and its code returned,
    so the service manager restarts the set (every outbox keeps what it had stored)."""
    procs: list[subprocess.Popen[bytes]] = []
    for i in range(n):
        cmd = [sys.executable, "-m", "plantcarbon", "edge", "run", "--plant", str(plant), "--group", f"{i}/{n}"]
        cmd += ["--edge-id", worker_id(edge_id, i), "--outbox", str(outbox.with_name(f"{outbox.name}.p{i}"))]
        cmd += ["--metrics-port", str(metrics_port + i if metrics_port else 0), "--log-level", log_level]
        if outbox_max_mb is not None:
            cmd += ["--outbox-max-mb", str(outbox_max_mb / n)]
        procs.append(subprocess.Popen(cmd))
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while any(p.poll() is None for p in procs):
        for p in procs:
            if p.poll() is not None and not stopping:
                name = worker_id(edge_id, procs.index(p))
                typer.echo(f"edge process {name} exited with {p.returncode}; stopping the others", err=True)
                code = p.returncode or 1
                stop(signal.SIGTERM, None)
        time.sleep(0.2)
    return code


async def _run(plant: Plant, broker: BrokerConfig, options: AgentOptions) -> None:
    agent = Agent(plant, broker, options)  # pymodbus clients need the running loop
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await agent.start()
    try:
        await stop.wait()
    finally:
        await agent.stop()


@app.command()
def read(
    plant: Path = typer.Option(..., "--plant", help="The plant file (YAML)."),
    device: str = typer.Option(..., "--device", help="The device id to read."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Read one Modbus device once and print its decoded values with units and any bad registers."""
    es = EdgeSettings()
    p = _load(plant, es.profile_dirs)
    try:
        d = p.device(device)
    except KeyError:
        typer.echo(f"no device {device!r} in {plant} (devices: {', '.join(p.device_ids)})", err=True)
        raise typer.Exit(2) from None
    src = d.source
    if isinstance(src, MqttSource) or src is None:
        typer.echo(f"device {device!r} has no Modbus source; `edge read` reads Modbus devices", err=True)
        raise typer.Exit(2)
    result = asyncio.run(_read_once(ModbusDevice.build(d, find_profile(src.profile, es.profile_dirs)), src))
    units = registry()
    if result.sample is None:
        if as_json:
            print(json.dumps({"device": device, "error": result.error}))
        else:
            typer.echo(f"{device}: no answer: {result.error}", err=True)
        raise typer.Exit(1)
    s = result.sample
    if as_json:
        doc = {
            "device": device,
            "ts": s.ts,
            "values": {k: {"value": v, "unit": units[k].unit} for k, v in s.values.items()},
            "bad": s.bad,
            "requests": result.requests,
        }
        print(json.dumps(doc, indent=2))
        return
    table = Table(title=f"{device} ({src.profile}, {result.requests} requests)")
    for col in ("quantity", "value", "unit", "note"):
        table.add_column(col)
    for k, v in s.values.items():
        table.add_row(k, f"{v:.6g}", units[k].unit, "")
    for k, reason in s.bad.items():
        table.add_row(k, "—", units[k].unit if k in units else "", f"bad: {reason}")
    Console().print(table)


async def _read_once(dev: ModbusDevice, src: ModbusTcpSource | ModbusRtuSource):  # type: ignore[no-untyped-def]
    link = Link(link_key(src), make_client(src, src.timeout_s))
    try:
        return await dev.poll(link)
    finally:
        link.close()
