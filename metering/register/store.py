"""The register in the metering state database: seeded from the plant file, edited by people, every change audited."""

from __future__ import annotations

import weakref
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from metering.register.model import Entry, InstrumentEdit
from metering.register.seed import seed
from metering.state.models import Base
from metering.state.store import NotFound, Store, _utc, now
from plantcarbon_core.plant import Plant

ENTITY = "register"
_READY: weakref.WeakSet[Engine] = weakref.WeakSet()


class InstrumentRow(Base):
    """One register entry; `entry` is the validated Entry (seeded fields and people's edits)."""

    __tablename__ = "register_instruments"
    site: Mapped[str] = mapped_column(String(63), primary_key=True)
    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(64))


class RegisterStore:
    """The register over the shared `Store` (same database, same sessions, same audit log)."""

    def __init__(self, store: Store):
        self.store = store
        if store.engine not in _READY:  # once per database, not on every request
            Base.metadata.create_all(store.engine, tables=[InstrumentRow.__table__])  # type: ignore[list-item]
            _READY.add(store.engine)

    def sync(self, plant: Plant, actor: str = "plant-file") -> list[str]:
        """Add the plant file's instruments the register lacks (edited entries are never overwritten); audited once."""
        entries = seed(plant)
        with self.store.session() as s:
            have = set(s.scalars(select(InstrumentRow.id).where(InstrumentRow.site == plant.site.id)).all())
            added = [e for e in entries if e.id not in have]
            for e in added:
                s.add(
                    InstrumentRow(
                        site=e.site, id=e.id, entry=e.model_dump(mode="json"), updated_at=now(), updated_by=actor
                    )
                )
            if added:
                self.store.audit(s, actor, "seed", ENTITY, plant.site.id, None, {"added": [e.id for e in added]})
        return [e.id for e in added]

    def list(self, site: str) -> list[Entry]:
        with self.store.session() as s:
            q = select(InstrumentRow).where(InstrumentRow.site == site).order_by(InstrumentRow.id)
            rows = s.scalars(q).all()
            return [Entry.model_validate(r.entry) for r in rows]

    def get(self, site: str, instrument_id: str) -> tuple[Entry, dict[str, Any]]:
        """The entry and its bookkeeping (version, updated_at, updated_by)."""
        with self.store.session() as s:
            row = s.get(InstrumentRow, (site, instrument_id))
            if row is None:
                raise NotFound(f"no instrument {instrument_id!r} in the register of {site}")
            return Entry.model_validate(row.entry), _meta(row)

    def update(self, site: str, instrument_id: str, edit: InstrumentEdit, actor: str) -> tuple[Entry, dict[str, Any]]:
        """Apply an edit (validated as a whole: raises ValueError naming the field); the audit row has who,
        and the changed fields before and after."""
        with self.store.session() as s:
            row = s.get(InstrumentRow, (site, instrument_id))
            if row is None:
                raise NotFound(f"no instrument {instrument_id!r} in the register of {site}")
            old = Entry.model_validate(row.entry)
            new = old.apply(edit)
            a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
            changed = [k for k in b if a.get(k) != b[k]]
            if changed:
                row.entry, row.version = b, row.version + 1
                row.updated_at, row.updated_by = now(), actor
                before, after = {k: a.get(k) for k in changed}, {k: b[k] for k in changed}
                self.store.audit(s, actor, "update", ENTITY, f"{site}/{instrument_id}", before, after)
            return new, _meta(row)


def _meta(row: InstrumentRow) -> dict[str, Any]:
    return {"version": row.version, "updated_at": _utc(row.updated_at), "updated_by": row.updated_by}
