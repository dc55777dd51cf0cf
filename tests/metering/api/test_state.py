"""The state store on SQLite and on PostgreSQL: keys, thresholds with audit, the alert lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from harness.postgres import Postgres
from metering.state.store import Conflict, NotFound, Store, make_engine

pytestmark = pytest.mark.integration

RULE = {"id": "r1", "site": "plant-a", "device": "tr-01", "quantity": "p_kw", "threshold": 100.0}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
        yield s
        s.close()
        return
    pg: Postgres = request.getfixturevalue("postgres")
    # A fresh database per test on the session's cluster.
    name = "t_" + uuid.uuid4().hex[:12]
    eng = make_engine(pg.url).execution_options(isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    s = Store(pg.url.rsplit("/", 1)[0] + "/" + name)
    yield s
    s.close()
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE "{name}"'))
    eng.dispose()


def test_keys(store: Store) -> None:
    token = store.create_key("anna", "energy_manager")
    p = store.authenticate(token)
    assert p is not None and (p.name, p.role) == ("anna", "energy_manager")
    assert store.authenticate(token + "x") is None
    with pytest.raises(Conflict):
        store.create_key("anna", "viewer")
    store.revoke_key("anna")
    assert store.authenticate(token) is None
    with pytest.raises(NotFound):
        store.revoke_key("bob")


def test_thresholds_and_audit(store: Store) -> None:
    store.create_threshold(RULE, "anna")
    store.update_threshold({**RULE, "threshold": 120.0}, "ben")
    assert store.get_threshold("r1")["version"] == 2 and store.get_threshold("r1")["updated_by"] == "ben"
    store.delete_threshold("r1", "anna")
    audit = store.list_audit("threshold")
    assert [(a["action"], a["actor"]) for a in audit] == [("delete", "anna"), ("update", "ben"), ("create", "anna")]
    assert audit[1]["before"]["threshold"] == 100.0 and audit[1]["after"]["threshold"] == 120.0
    assert all(a["at"].tzinfo is not None for a in audit)


def test_alert_lifecycle(store: Store) -> None:
    t0 = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    a = store.fire_alert("r1", "plant-a", "critical", 130.0, 100.0, "hot", t0)
    assert store.open_alert("r1") == a and a["fired_at"] == t0
    acked = store.acknowledge_alert(a["id"], "op")
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "op"
    done = store.resolve_alert(a["id"], t0.replace(hour=3), 90.0)
    assert done["state"] == "resolved" and done["resolved_at"] == t0.replace(hour=3)
    assert store.open_alert("r1") is None
    with pytest.raises(Conflict):
        store.acknowledge_alert(a["id"], "op")
    assert [x["id"] for x in store.list_alerts("resolved")] == [a["id"]]
