"""Security: production refuses default secrets, keys are managed by CLI, secrets stay out of logs and errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from metering.api.app import create_app
from metering.api.settings import ApiSettings
from metering.state.store import Store
from plantcarbon.cli import app as cli
from tests.metering.api.conftest import Api

STRONG = "Zq8x1Lr0Vw9Kp2Nn5Tt7Yy3Hh6Jj4Ff"


def test_production_refuses_the_development_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANTCARBON_INFLUX_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="PLANTCARBON_INFLUX_TOKEN holds the development token"):
        ApiSettings(env="production")
    with pytest.raises(ValidationError, match="PLANTCARBON_BOOTSTRAP_ADMIN_KEY is too short"):
        ApiSettings(env="production", influx_token=STRONG, bootstrap_admin_key="admin")  # type: ignore[arg-type]
    ok = ApiSettings(env="production", influx_token=STRONG, bootstrap_admin_key=STRONG)  # type: ignore[arg-type]
    assert ok.env == "production"
    # Development keeps its one-machine defaults.
    assert ApiSettings(env="development").influx_token.get_secret_value() == "plantcarbon-dev-token"


def test_bootstrap_admin_key_is_registered_hashed_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    s = ApiSettings(env="development", bootstrap_admin_key=STRONG)  # type: ignore[arg-type]
    for _ in range(2):
        app = create_app(s, store=store, start_alerts=False)
    with TestClient(app) as c:
        assert c.get("/api/v1/me", headers={"X-API-Key": STRONG}).json() == {"name": "bootstrap-admin", "role": "admin"}
    assert [k["name"] for k in store.list_keys()] == ["bootstrap-admin"]
    assert STRONG.encode() not in (tmp_path / "s.sqlite").read_bytes()


def test_cli_key_management(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTCARBON_DATA_DIR", str(tmp_path))
    run = CliRunner()
    made = run.invoke(cli, ["metering", "keys-create", "anna", "--role", "energy_manager"])
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    assert token.startswith("pc_") and len(token) > 40
    listed = run.invoke(cli, ["metering", "keys-list"])
    assert "anna" in listed.output and "energy_manager" in listed.output and token not in listed.output
    assert run.invoke(cli, ["metering", "keys-create", "anna"]).exit_code == 1
    bad = run.invoke(cli, ["metering", "keys-create", "bob", "--role", "root"])
    assert bad.exit_code == 2 and "role must be one of viewer, operator, energy_manager, admin" in bad.output
    assert run.invoke(cli, ["metering", "keys-revoke", "anna"]).exit_code == 0
    assert Store(f"sqlite:///{tmp_path / 'metering-state.sqlite'}").authenticate(token) is None
    assert "revoked" in run.invoke(cli, ["metering", "keys-list"]).output


def test_cli_serve_refuses_default_secrets_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTCARBON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PLANTCARBON_ENV", "production")
    monkeypatch.delenv("PLANTCARBON_INFLUX_TOKEN", raising=False)
    out = CliRunner().invoke(cli, ["metering", "serve"])
    assert out.exit_code == 2 and "PLANTCARBON_INFLUX_TOKEN holds the development token" in out.output


@pytest.mark.integration
def test_secrets_stay_out_of_logs_and_error_bodies(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = api.keys["energy_manager"]
    marker = "SECRET-" + "x" * 300
    r = api.client.post(
        "/api/v1/thresholds", json={"id": "a", "site": "plant-a", "name": marker}, headers=api.as_("energy_manager")
    )
    assert r.status_code == 422 and "SECRET-" not in r.text  # errors name the field, never echo the input
    assert r.json()["detail"][0]["loc"] == ["body", "name"]
    r = api.client.get("/api/v1/me", headers={"Authorization": "Bearer " + marker})
    assert r.status_code == 401 and "SECRET-" not in r.text
    assert api.client.get("/api/v1/me", headers=api.as_("energy_manager")).status_code == 200
    assert key not in caplog.text and "SECRET-" not in caplog.text


def _env_example() -> dict[str, str]:
    text = (Path(__file__).resolve().parents[3] / ".env.example").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_production_refuses_the_env_example_placeholders_and_trivial_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16, finding 13: `.env.example` values copied unchanged, or trivial ones, stop the start."""
    example = _env_example()
    for var in ("PLANTCARBON_INFLUX_TOKEN", "PLANTCARBON_MQTT_PASSWORD", "PLANTCARBON_BOOTSTRAP_ADMIN_KEY"):
        monkeypatch.delenv(var, raising=False)
    cases = {
        "PLANTCARBON_INFLUX_TOKEN": dict(influx_token=example["INFLUXDB_ADMIN_TOKEN"], bootstrap_admin_key=STRONG),
        "PLANTCARBON_BOOTSTRAP_ADMIN_KEY": dict(
            influx_token=STRONG, bootstrap_admin_key=example["PLANTCARBON_BOOTSTRAP_ADMIN_KEY"]
        ),
        "PLANTCARBON_MQTT_PASSWORD": dict(
            influx_token=STRONG, bootstrap_admin_key=STRONG, mqtt_password=example["PLANTCARBON_MQTT_ALERTS_PASSWORD"]
        ),
    }
    for setting, kw in cases.items():
        with pytest.raises(ValidationError, match=f"{setting} still holds the .env.example placeholder") as err:
            ApiSettings(env="production", **kw)  # type: ignore[arg-type]
        assert "CHANGE-ME" not in str(err.value)  # named, never echoed
    trivial = "a" * 40
    with pytest.raises(ValidationError, match="PLANTCARBON_BOOTSTRAP_ADMIN_KEY uses fewer than 10 distinct"):
        ApiSettings(env="production", influx_token=STRONG, bootstrap_admin_key=trivial)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="PLANTCARBON_INFLUX_TOKEN contains a common word"):
        ApiSettings(env="production", influx_token="my-influx-password-2026")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"PLANTCARBON_ALERT_WEBHOOKS\[0\].secret is shorter"):
        ApiSettings(
            env="production",
            influx_token=STRONG,
            alert_webhooks=[{"url": "https://example.org/hook", "secret": "short"}],  # type: ignore[list-item]
        )


def test_production_refuses_a_world_readable_token_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16, finding 13: a token file others can read is refused, as ssh refuses such keys."""
    monkeypatch.delenv("PLANTCARBON_INFLUX_TOKEN", raising=False)
    token = tmp_path / "api.token"
    token.write_text(STRONG + "\n")
    token.chmod(0o644)
    with pytest.raises(ValidationError, match=r"PLANTCARBON_INFLUX_TOKEN_FILE is readable by every user \(mode 0644\)"):
        ApiSettings(env="production", influx_token_file=token)
    token.chmod(0o400)
    ok = ApiSettings(env="production", influx_token_file=token)
    assert ok.influx_token.get_secret_value() == STRONG
    token.chmod(0o644)  # development keeps working on one machine
    assert ApiSettings(env="development", influx_token_file=token).influx_token.get_secret_value() == STRONG
