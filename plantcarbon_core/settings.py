"""Runtime settings from PLANTCARBON_* environment variables, with one-machine defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
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
    mqtt_password_file: Path | None = None  # a file holding the password; wins when set
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None
    mqtt_key_file: Path | None = None

    # InfluxDB 2.x: writes go to the bucket, InfluxQL reads use the bucket name as database.
    influx_url: str = "http://127.0.0.1:8086"
    influx_org: str = "plantcarbon"
    influx_token: SecretStr = SecretStr("plantcarbon-dev-token")
    # A file holding the token (Docker/Kubernetes secrets); when set it wins over influx_token.
    influx_token_file: Path | None = None
    influx_raw_bucket: str = "raw"
    influx_metering_bucket: str = "metering"

    # Metering API.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)

    # Local state: edge outbox, dead letters, SQLite state.
    data_dir: Path = Field(default_factory=default_data_dir)

    # Path to an influxd 2.7 binary; when unset the harness looks on PATH, then in its cache.
    influxd: Path | None = None

    @model_validator(mode="after")
    def _secret_files(self) -> Settings:
        # Secrets mounted as files keep tokens out of the environment and of `docker inspect`.
        if self.influx_token_file is not None:
            self.influx_token = SecretStr(_read_secret(self.influx_token_file, "PLANTCARBON_INFLUX_TOKEN_FILE"))
        if self.mqtt_password_file is not None:
            self.mqtt_password = SecretStr(_read_secret(self.mqtt_password_file, "PLANTCARBON_MQTT_PASSWORD_FILE"))
        return self


def _read_secret(path: Path, setting: str) -> str:
    try:
        value = path.read_text("utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{setting}={path}: cannot read: {exc.strerror or exc}") from None
    if not value:
        raise ValueError(f"{setting}={path}: the file is empty")
    return value


class ProfileSettings(BaseSettings):
    """Where user meter profiles live; read by every part (edge, metering, simulators, dashboards)."""

    model_config = SettingsConfigDict(extra="ignore")

    # Extra folders of meter profiles (a JSON list), searched after plantcarbon_core/meter_profiles.
    # PLANTCARBON_EDGE_PROFILE_DIRS is the edge's older name for the same setting.
    profile_dirs: list[Path] = Field(
        default=[], validation_alias=AliasChoices("PLANTCARBON_PROFILE_DIRS", "PLANTCARBON_EDGE_PROFILE_DIRS")
    )


def load_settings() -> Settings:
    return Settings()
