"""The audit log covers every change (issue 16, finding 12): user files replaced only after they
check out and with their row, acknowledgements, the bootstrap admin key; the last admin key stays."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from metering.api.app import create_app
from metering.api.settings import ApiSettings
from metering.state.store import Store
from tests.metering.api.conftest import Api
from tests.metering.api.test_routes import USER_FACTORS

STRONG = "Zq8x1Lr0Vw9Kp2Nn5Tt7Yy3Hh6Jj4Ff"
OTHER = "Mm4Bb7Cc2Dd9Ee1Gg6Hh3Jj8Kk5Ll0P"
EM = "energy_manager"

# A user factor file as a person writes it: unquoted YAML dates (safe_load gives datetime.date).
HAND_WRITTEN = """set: site-supplier
defaults: {carrier: electricity, unit: tCO2/MWh, gas: CO2, method: market}
factors:
  - id: supplier-green-mix
    version: "2024"
    kind: grid-residual
    region: cn-east
    value: 0.4
    valid_from: 2024-01-01
    source: {document: Supplier disclosure 2024, table: t1}
"""


@pytest.mark.integration
def test_put_over_a_factor_file_with_yaml_dates_is_stored_and_audited(api: Api) -> None:
    path = api.data_dir / "factors" / "site-supplier.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HAND_WRITTEN, "utf-8")
    r = api.client.put("/api/v1/factors/files/site-supplier", json=USER_FACTORS, headers=api.as_(EM))
    assert r.status_code == 200, r.text
    assert "supplier-green-mix" in path.read_text("utf-8") and "0.3" in path.read_text("utf-8")
    [row] = api.store.list_audit("factor")
    assert (row["action"], row["actor"]) == ("update", "energy-manager-key")
    assert row["before"]["factors"][0]["valid_from"] == "2024-01-01"  # the date, as JSON
    assert row["after"]["factors"][0]["value"] == 0.3
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".staging-")]  # nothing left behind


@pytest.mark.integration
def test_put_over_a_tariff_file_with_yaml_dates_is_audited_and_delete_too(api: Api) -> None:
    c = api.client
    full = c.get("/api/v1/tariffs/cn-js-large-industry", headers=api.as_("viewer")).json()
    mine = {**full, "id": "site-negotiated"}
    assert c.put("/api/v1/tariffs/site-negotiated", json=mine, headers=api.as_(EM)).status_code == 200
    path = api.data_dir / "tariffs" / "site-negotiated.yaml"
    # Re-written by hand with unquoted dates, then replaced through the API.
    text, n = re.subn(r"'(\d{4}-\d{2}-\d{2})'", r"\1", path.read_text("utf-8"))
    assert n > 0
    path.write_text(text, "utf-8")
    r = c.put("/api/v1/tariffs/site-negotiated", json={**mine, "name": "v2"}, headers=api.as_(EM))
    assert r.status_code == 200, r.text
    rows = api.store.list_audit("tariff")
    assert [a["action"] for a in rows] == ["update", "create"]
    assert isinstance(rows[0]["before"]["versions"][0]["effective_from"], str)

    assert c.delete("/api/v1/factors/files/nope", headers=api.as_(EM)).status_code == 404
    assert c.put("/api/v1/factors/files/site-supplier", json=USER_FACTORS, headers=api.as_(EM)).status_code == 200
    assert c.delete("/api/v1/factors/files/site-supplier", headers=api.as_(EM)).status_code == 204
    assert [a["action"] for a in api.store.list_audit("factor")] == ["delete", "create"]


def _store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 's.sqlite'}")


def test_acknowledgement_is_audited(tmp_path: Path) -> None:
    store = _store(tmp_path)
    op = store.create_key("op-li", "operator")
    alert = store.fire_alert(
        "tr-01-power", "plant-a", "warning", 4100.0, 4000.0, "over", datetime(2026, 3, 2, tzinfo=UTC)
    )
    app = create_app(ApiSettings(env="development", data_dir=tmp_path), store=store, start_alerts=False)
    with TestClient(app) as c:
        r = c.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers={"X-API-Key": op})
        assert r.status_code == 200 and r.json()["state"] == "acknowledged"
        again = c.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers={"X-API-Key": op})
        assert again.status_code == 200
    [row] = store.list_audit("alert")  # acknowledged once, audited once
    assert (row["actor"], row["action"], row["entity_id"]) == ("op-li", "acknowledge", str(alert["id"]))
    assert row["after"] == {"state": "acknowledged"}


def test_bootstrap_admin_creation_is_audited(tmp_path: Path) -> None:
    store = _store(tmp_path)
    create_app(ApiSettings(env="development", bootstrap_admin_key=STRONG), store=store, start_alerts=False)  # type: ignore[arg-type]
    [row] = store.list_audit("api_key")
    assert (row["actor"], row["action"], row["entity_id"], row["after"]) == (
        "bootstrap",
        "create",
        "bootstrap-admin",
        {"role": "admin"},
    )


def test_revoking_bootstrap_admin_keeps_the_next_start_and_the_last_admin_stays(tmp_path: Path) -> None:
    store = _store(tmp_path)
    settings = ApiSettings(env="development", bootstrap_admin_key=STRONG, data_dir=tmp_path)  # type: ignore[arg-type]
    app = create_app(settings, store=store, start_alerts=False)
    boot = {"X-API-Key": STRONG}
    with TestClient(app) as c:
        # The only admin key cannot be revoked: nobody could manage keys any more.
        r = c.delete("/api/v1/keys/bootstrap-admin", headers=boot)
        assert r.status_code == 409 and "last admin key" in r.json()["detail"]
        made = c.post("/api/v1/keys", json={"name": "ops-admin", "role": "admin"}, headers=boot)
        assert made.status_code == 201
        ops = {"X-API-Key": made.json()["key"]}
        assert c.delete("/api/v1/keys/bootstrap-admin", headers=ops).status_code == 204
        assert c.delete("/api/v1/keys/ops-admin", headers=ops).status_code == 409  # now the last one
    # The next start with the same settings: no failure, no revived key, ops-admin still works.
    app = create_app(settings, store=store, start_alerts=False)
    with TestClient(app) as c:
        assert c.get("/api/v1/me", headers=boot).status_code == 401
        assert c.get("/api/v1/me", headers=ops).json() == {"name": "ops-admin", "role": "admin"}
    actions = [(a["actor"], a["action"], a["entity_id"]) for a in store.list_audit("api_key")]
    assert actions == [
        ("ops-admin", "revoke", "bootstrap-admin"),
        ("bootstrap-admin", "create", "ops-admin"),
        ("bootstrap", "create", "bootstrap-admin"),
    ]


def test_a_database_left_without_admin_still_starts(tmp_path: Path) -> None:
    """A state database from before the last-admin rule, its only admin revoked: start, and a
    new bootstrap key is registered under a free name; the revoked one is not brought back."""
    store = _store(tmp_path)
    store.add_key_with_token("bootstrap-admin", "admin", STRONG)
    with store.session() as s:  # revoked behind the rule's back, as an old version allowed
        from metering.state.models import ApiKeyRow

        s.query(ApiKeyRow).update({"revoked_at": datetime(2026, 1, 1)})
    create_app(ApiSettings(env="development", bootstrap_admin_key=STRONG), store=store, start_alerts=False)  # type: ignore[arg-type]
    assert store.active_admins() == []  # the revoked key stays revoked
    app = create_app(ApiSettings(env="development", bootstrap_admin_key=OTHER), store=store, start_alerts=False)  # type: ignore[arg-type]
    assert store.active_admins() == ["bootstrap-admin-2"]
    with TestClient(app) as c:
        assert c.get("/api/v1/me", headers={"X-API-Key": OTHER}).json()["name"] == "bootstrap-admin-2"


def test_cli_revoke_refuses_the_last_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from plantcarbon.cli import app as cli

    monkeypatch.setenv("PLANTCARBON_DATA_DIR", str(tmp_path))
    run = CliRunner()
    assert run.invoke(cli, ["metering", "keys-create", "root", "--role", "admin"]).exit_code == 0
    out = run.invoke(cli, ["metering", "keys-revoke", "root"])
    assert out.exit_code == 1 and "last admin key" in out.output
    store = Store(f"sqlite:///{tmp_path / 'metering-state.sqlite'}")
    assert [(a["actor"], a["action"]) for a in store.list_audit("api_key")] == [("cli", "create")]
