"""DR event store: a small SQLite table through SQLAlchemy, one row per event with its JSON body."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import DateTime, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from metering.dr.events import DrEvent, EventStatus


class _Base(DeclarativeBase):
    pass


class _EventRow(_Base):
    __tablename__ = "dr_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    end: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)


class DuplicateEvent(ValueError):
    """An event id that is already stored with a different body."""


class EventStore:
    """Events by id. Re-adding the same event (a redelivered MQTT message) is a no-op."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(f"sqlite:///{self.path}", future=True)
        _Base.metadata.create_all(self.engine)

    def add(self, event: DrEvent) -> bool:
        """Store an event; False if the identical event was already there."""
        body = event.model_dump_json()
        with Session(self.engine) as s, s.begin():
            row = s.get(_EventRow, event.id)
            if row is not None:
                if row.body == body:
                    return False
                raise DuplicateEvent(f"event {event.id!r} already exists with different content")
            s.add(
                _EventRow(
                    id=event.id,
                    site=event.site,
                    start=event.start.astimezone(dt.UTC),
                    end=event.end.astimezone(dt.UTC),
                    status=event.status,
                    source=event.source,
                    body=body,
                )
            )
        return True

    def get(self, event_id: str) -> DrEvent:
        with Session(self.engine) as s:
            row = s.get(_EventRow, event_id)
            if row is None:
                raise KeyError(event_id)
            return DrEvent.model_validate_json(row.body)

    def list(self, site: str | None = None) -> list[DrEvent]:
        with Session(self.engine) as s:
            q = select(_EventRow).order_by(_EventRow.start)
            if site is not None:
                q = q.where(_EventRow.site == site)
            return [DrEvent.model_validate_json(r.body) for r in s.scalars(q)]

    def set_status(self, event_id: str, status: EventStatus) -> DrEvent:
        with Session(self.engine) as s, s.begin():
            row = s.get(_EventRow, event_id)
            if row is None:
                raise KeyError(event_id)
            ev = DrEvent.model_validate_json(row.body)
            ev.status = status
            row.status = status
            row.body = ev.model_dump_json()
            return ev

    def event_days(self, site: str) -> set[dt.date]:
        """Local dates (event's own offset) on which the site had an event: excluded from baselines."""
        days: set[dt.date] = set()
        for ev in self.list(site):
            if ev.status != "cancelled":
                days.add(ev.start.date())
        return days
