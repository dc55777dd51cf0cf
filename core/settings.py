"""Runtime settings from PLANTCARBON_* environment variables, with one-machine defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "plantcarbon"


class Settings(BaseSettings):
    """Every setting has a default that works on one machine; override with PLANTCARBON_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="PLANTCARBON_", extra="ignore")

    # MQTT broker. mqtt://host:port or mqtts://host:port for TLS.
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_prefix: str = Field(default="pc", pattern=r"^[A-Za-z0-9_-]+$")
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None

    # InfluxDB 2.x: writes go to the bucket, InfluxQL reads use the bucket name as database.
    influx_url: str = "http://127.0.0.1:8086"
    influx_org: str = "plantcarbon"
    influx_token: SecretStr = SecretStr("plantcarbon-dev-token")
    influx_raw_bucket: str = "raw"
    influx_metering_bucket: str = "metering"

    # Metering API.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)

    # Local state: edge outbox, dead letters, SQLite state.
    data_dir: Path = Field(default_factory=default_data_dir)

    # Path to an influxd 2.7 binary; when unset the harness looks on PATH, then in its cache.
    influxd: Path | None = None


def load_settings() -> Settings:
    return Settings()
