"""The state store: API keys (hashed), thresholds, alerts and the audit log, over SQLAlchemy.

One `Store` per process; every method opens its own short session, so the API's worker
threads and the alert engine's MQTT thread can share it. SQLite is the default; any
SQLAlchemy URL works (e.g. `postgresql+psycopg://…`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from metering.state.models import AlertRow, ApiKeyRow, AuditRow, Base, ThresholdRow

Role = Literal["viewer", "operator", "energy_manager", "admin", "auditor"]
# Ranked roles: each includes the ones before it.
RANKED: tuple[Role, ...] = ("viewer", "operator", "energy_manager", "admin")
# `auditor` is outside the ranking: it reads everything (the audit log too) and changes nothing.
ROLES: tuple[Role, ...] = (*RANKED, "auditor")
OPEN_STATES = ("firing", "acknowledged")


class NotFound(LookupError):
    """The named row does not exist."""


class Conflict(ValueError):
    """The change clashes with the current state (duplicate id, wrong alert state)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's name and role (never the key itself)."""

    name: str
    role: Role


def hash_key(token: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 is enough (no dictionary to guess from).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _wal(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _utc(dt: datetime | None) -> datetime | None:
    # SQLite gives back naive datetimes; everything stored here is UTC.
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


class Store:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as s:
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # --- keys ---------------------------------------------------------------------------

    def create_key(self, name: str, role: Role, actor: str | None = None) -> str:
        """A new key; the plain token is returned once and never stored. With `actor`, audited."""
        token = "pc_" + secrets.token_urlsafe(32)
        self.add_key_with_token(name, role, token, actor)
        return token

    def add_key_with_token(self, name: str, role: Role, token: str, actor: str | None = None) -> None:
        """Register a key chosen elsewhere (the bootstrap admin key, test keys); only its hash is kept.

        With `actor`, the creation is audited in the same transaction (no key without its row).
        """
        with self.session() as s:
            if s.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name)) is not None:
                raise Conflict(f"a key named {name!r} exists")
            if s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(token))) is not None:
                raise Conflict(f"key {name!r}: this key is already registered (perhaps revoked) under another name")
            s.add(ApiKeyRow(name=name, role=role, prefix=token[:10], key_hash=hash_key(token), created_at=now()))
            if actor is not None:
                self.audit(s, actor, "create", "api_key", name, None, {"role": role})

    def has_key_hash(self, token: str) -> bool:
        """Whether this key was ever registered, revoked or not."""
        with self.session() as s:
            return s.scalar(select(ApiKeyRow.id).where(ApiKeyRow.key_hash == hash_key(token))) is not None

    def active_admins(self) -> list[str]:
        with self.session() as s:
            q = select(ApiKeyRow.name).where(ApiKeyRow.role == "admin", ApiKeyRow.revoked_at.is_(None))
            return list(s.scalars(q).all())

    def authenticate(self, token: str) -> Principal | None:
        with self.session() as s:
            row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(token)))
            if row is None or row.revoked_at is not None:
                return None
            return Principal(name=row.name, role=row.role)  # type: ignore[arg-type]

    def list_keys(self) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id)).all()
            return [
                {
                    "name": r.name,
                    "role": r.role,
                    "prefix": r.prefix,
                    "created_at": _utc(r.created_at),
                    "revoked_at": _utc(r.revoked_at),
                }
                for r in rows
            ]

    def revoke_key(self, name: str, actor: str | None = None) -> None:
        """Revoke a key (audited with `actor`). The last active admin key cannot be revoked:
        nobody could manage keys through the API any more."""
        with self.session() as s:
            row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
            if row is None:
                raise NotFound(f"no key named {name!r}")
            if row.revoked_at is not None:
                return
            if row.role == "admin":
                others = s.scalar(
                    select(func.count())
                    .select_from(ApiKeyRow)
                    .where(ApiKeyRow.role == "admin", ApiKeyRow.revoked_at.is_(None), ApiKeyRow.name != name)
                )
                if not others:
                    raise Conflict(f"{name!r} is the last admin key; create another admin key before revoking it")
            row.revoked_at = now()
            if actor is not None:
                self.audit(s, actor, "revoke", "api_key", name, {"role": row.role}, None)

    # --- audit --------------------------------------------------------------------------

    def audit(
        self,
        s: Session,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        s.add(
            AuditRow(
                at=now(), actor=actor, action=action, entity=entity, entity_id=entity_id, before=before, after=after
            )
        )

    def record_audit(
        self,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        with self.session() as s:
            self.audit(s, actor, action, entity, entity_id, before, after)

    @contextmanager
    def audited(
        self,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> Iterator[None]:
        """Audit a change made outside the database (a file): the row is stored first, so a row
        that cannot be stored stops the change, and committed only when the change succeeded."""
        with self.session() as s:
            self.audit(s, actor, action, entity, entity_id, before, after)
            s.flush()
            yield

    def list_audit(self, entity: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            if entity:
                q = q.where(AuditRow.entity == entity)
            return [
                {
                    "at": _utc(r.at),
                    "actor": r.actor,
                    "action": r.action,
                    "entity": r.entity,
                    "entity_id": r.entity_id,
                    "before": r.before,
                    "after": r.after,
                }
                for r in s.scalars(q).all()
            ]

    # --- thresholds ---------------------------------------------------------------------

    def list_thresholds(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [self._threshold(r) for r in s.scalars(select(ThresholdRow).order_by(ThresholdRow.id)).all()]

    def get_threshold(self, rule_id: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(ThresholdRow, rule_id)
            if row is None:
                raise NotFound(f"no threshold {rule_id!r}")
            return self._threshold(row)

    def create_threshold(self, spec: dict[str, Any], actor: str) -> dict[str, Any]:
        with self.session() as s:
            if s.get(ThresholdRow, spec["id"]) is not None:
                raise Conflict(f"threshold {spec['id']!r} exists; use PUT to change it")
            row = ThresholdRow(
                id=spec["id"], site=spec["site"], spec=spec, version=1, updated_at=now(), updated_by=actor
            )
            s.add(row)
            self.audit(s, actor, "create", "threshold", spec["id"], None, spec)
            return self._threshold(row)

    def update_threshold(self, spec: dict[str, Any], actor: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(ThresholdRow, spec["id"])
            if row is None:
                raise NotFound(f"no threshold {spec['id']!r}")
            before = dict(row.spec)
            row.spec, row.site, row.version = spec, spec["site"], row.version + 1
            row.updated_at, row.updated_by = now(), actor
            self.audit(s, actor, "update", "threshold", spec["id"], before, spec)
            return self._threshold(row)

    def delete_threshold(self, rule_id: str, actor: str) -> None:
        with self.session() as s:
            row = s.get(ThresholdRow, rule_id)
            if row is None:
                raise NotFound(f"no threshold {rule_id!r}")
            self.audit(s, actor, "delete", "threshold", rule_id, dict(row.spec), None)
            s.delete(row)

    @staticmethod
    def _threshold(r: ThresholdRow) -> dict[str, Any]:
        return {**r.spec, "version": r.version, "updated_at": _utc(r.updated_at), "updated_by": r.updated_by}

    # --- alerts -------------------------------------------------------------------------

    def open_alert(self, rule: str) -> dict[str, Any] | None:
        with self.session() as s:
            row = s.scalar(
                select(AlertRow)
                .where(AlertRow.rule == rule, AlertRow.state.in_(OPEN_STATES))
                .order_by(AlertRow.id.desc())
            )
            return None if row is None else self._alert(row)

    def fire_alert(
        self, rule: str, site: str, severity: str, value: float, threshold: float, message: str, at: datetime
    ) -> dict[str, Any]:
        with self.session() as s:
            row = AlertRow(
                rule=rule,
                site=site,
                severity=severity,
                state="firing",
                value=value,
                threshold=threshold,
                message=message,
                fired_at=at,
            )
            s.add(row)
            s.flush()
            return self._alert(row)

    def acknowledge_alert(self, alert_id: int, actor: str) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(AlertRow, alert_id)
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            if row.state == "resolved":
                raise Conflict(f"alert {alert_id} is resolved; nothing to acknowledge")
            if row.state == "firing":
                row.state, row.acknowledged_at, row.acknowledged_by = "acknowledged", now(), actor
                self.audit(
                    s, actor, "acknowledge", "alert", str(alert_id), {"state": "firing"}, {"state": "acknowledged"}
                )
            return self._alert(row)

    def resolve_alert(self, alert_id: int, at: datetime, value: float) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(AlertRow, alert_id)
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            row.state, row.resolved_at, row.value = "resolved", at, value
            return self._alert(row)

    def get_alert(self, alert_id: int) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(AlertRow, alert_id)
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            return self._alert(row)

    def list_alerts(self, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
            if state == "open":
                q = q.where(AlertRow.state.in_(OPEN_STATES))
            elif state:
                q = q.where(AlertRow.state == state)
            return [self._alert(r) for r in s.scalars(q).all()]

    @staticmethod
    def _alert(r: AlertRow) -> dict[str, Any]:
        return {
            "id": r.id,
            "rule": r.rule,
            "site": r.site,
            "severity": r.severity,
            "state": r.state,
            "value": r.value,
            "threshold": r.threshold,
            "message": r.message,
            "fired_at": _utc(r.fired_at),
            "acknowledged_at": _utc(r.acknowledged_at),
            "acknowledged_by": r.acknowledged_by,
            "resolved_at": _utc(r.resolved_at),
        }
