"""Settings: one-machine defaults, PLANTCARBON_* overrides, secrets read from files."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantcarbon_core.settings import Settings


def test_defaults_work_on_one_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in (
        "PLANTCARBON_MQTT_URL",
        "PLANTCARBON_INFLUX_URL",
        "PLANTCARBON_INFLUX_TOKEN",
        "PLANTCARBON_INFLUX_TOKEN_FILE",
    ):
        monkeypatch.delenv(k, raising=False)
    s = Settings()
    assert s.mqtt_url == "mqtt://127.0.0.1:1883"
    assert s.influx_url == "http://127.0.0.1:8086"
    assert (s.influx_raw_bucket, s.influx_metering_bucket) == ("raw", "metering")


def test_env_overrides_and_token_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token = tmp_path / "ingest.token"
    token.write_text("s3cret-token\n")
    monkeypatch.setenv("PLANTCARBON_INFLUX_URL", "http://influxdb:8086")
    monkeypatch.setenv("PLANTCARBON_INFLUX_TOKEN", "ignored")
    monkeypatch.setenv("PLANTCARBON_INFLUX_TOKEN_FILE", str(token))
    s = Settings()
    assert s.influx_url == "http://influxdb:8086"
    assert s.influx_token.get_secret_value() == "s3cret-token"
    assert "s3cret" not in repr(s)  # secrets never printed


def test_missing_secret_file_names_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PLANTCARBON_INFLUX_TOKEN_FILE", str(tmp_path / "nope"))
    with pytest.raises(ValueError, match=r"PLANTCARBON_INFLUX_TOKEN_FILE=.*nope: cannot read"):
        Settings()
