"""`plantcarbon services …`: install, build and run the local services from the harness."""

from __future__ import annotations

import signal
import time

import typer

from harness.influxdb import INFLUXDB_VERSION, ensure_influxd, start_influxdb
from harness.mosquitto import ensure_mosquitto, start_mosquitto
from harness.web import ensure_web_assets

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@app.command()
def install() -> None:
    """Install Mosquitto (apt), build influxd and npm-install the control room's charts if missing; prints paths."""
    print(f"mosquitto: {ensure_mosquitto()}")
    print(f"influxd {INFLUXDB_VERSION}: {ensure_influxd()}")
    print(f"echarts: {ensure_web_assets()}")


@app.command()
def up() -> None:
    """Start Mosquitto and InfluxDB on free loopback ports until Ctrl-C."""
    broker = start_mosquitto()
    influx = start_influxdb()
    print(f"PLANTCARBON_MQTT_URL={broker.url}")
    print(f"PLANTCARBON_INFLUX_URL={influx.url}")
    print(f"PLANTCARBON_INFLUX_ORG={influx.org}")
    print(f"PLANTCARBON_INFLUX_TOKEN={influx.token}")
    print(f"# InfluxDB {influx.version}; Ctrl-C stops both", flush=True)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
        influx.stop()
