"""Filing months and their locked revisions in the metering state store, every change in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from metering.state.models import ComplianceMonthRow, ComplianceRevisionRow
from metering.state.store import Conflict, NotFound, Store, _utc, now

STATES = ("open", "in_review", "approved", "filed")
ENTITY = "compliance_month"


def entity_id(site: str, unit: str, month: str) -> str:
    return f"{site}/{unit}/{month}"


class ComplianceStore:
    """The workflow's state over the shared `Store` (same database, same sessions, same audit log)."""

    def __init__(self, store: Store):
        self.store = store

    @contextmanager
    def _change(self, eid: str) -> Iterator[Session]:
        """A writing session; two people changing the same month at once: the second gets Conflict, not an error."""
        try:
            with self.store.session() as s:
                yield s
        except IntegrityError:
            raise Conflict(f"{eid} was changed by someone else at the same time: reload it and try again") from None

    def _row(self, s: Session, site: str, unit: str, month: str) -> ComplianceMonthRow | None:
        q = select(ComplianceMonthRow).where(
            ComplianceMonthRow.site == site, ComplianceMonthRow.unit == unit, ComplianceMonthRow.month == month
        )
        return s.scalar(q)

    @staticmethod
    def _month(r: ComplianceMonthRow | None, site: str, unit: str, month: str) -> dict[str, Any]:
        if r is None:
            return {
                "site": site,
                "unit": unit,
                "month": month,
                "state": "open",
                "revision": 0,
                "review": None,
                "filed_reference": None,
                "updated_at": None,
                "updated_by": None,
            }
        return {
            "site": r.site,
            "unit": r.unit,
            "month": r.month,
            "state": r.state,
            "revision": r.revision,
            "review": r.review,
            "filed_reference": r.filed_reference,
            "updated_at": _utc(r.updated_at),
            "updated_by": r.updated_by,
        }

    @staticmethod
    def _rev(r: ComplianceRevisionRow) -> dict[str, Any]:
        return {
            "revision": r.revision,
            "reason": r.reason,
            "created_at": _utc(r.created_at),
            "created_by": r.created_by,
            "snapshot": r.snapshot,
        }

    def get(self, site: str, unit: str, month: str) -> dict[str, Any]:
        """The month's state (`open` when never touched)."""
        with self.store.session() as s:
            return self._month(self._row(s, site, unit, month), site, unit, month)

    def list_months(self, site: str, unit: str | None = None) -> list[dict[str, Any]]:
        with self.store.session() as s:
            q = select(ComplianceMonthRow).where(ComplianceMonthRow.site == site)
            if unit:
                q = q.where(ComplianceMonthRow.unit == unit)
            rows = s.scalars(q.order_by(ComplianceMonthRow.unit, ComplianceMonthRow.month)).all()
            return [self._month(r, r.site, r.unit, r.month) for r in rows]

    def revisions(self, site: str, unit: str, month: str) -> list[dict[str, Any]]:
        with self.store.session() as s:
            q = (
                select(ComplianceRevisionRow)
                .where(
                    ComplianceRevisionRow.site == site,
                    ComplianceRevisionRow.unit == unit,
                    ComplianceRevisionRow.month == month,
                )
                .order_by(ComplianceRevisionRow.revision)
            )
            return [self._rev(r) for r in s.scalars(q).all()]

    def set_review(self, site: str, unit: str, month: str, review: dict[str, Any], actor: str) -> dict[str, Any]:
        """open or in_review → in_review with this review; a locked month is never reviewed again (revise it)."""
        with self._change(entity_id(site, unit, month)) as s:
            row = self._row(s, site, unit, month)
            before = None if row is None else {"state": row.state}
            if row is not None and row.state in ("approved", "filed"):
                raise Conflict(
                    f"{entity_id(site, unit, month)} is {row.state} (revision {row.revision}, locked): "
                    "a change makes a new revision (revise), not a new review"
                )
            if row is None:
                row = ComplianceMonthRow(site=site, unit=unit, month=month, revision=0)
                s.add(row)
            row.state, row.review, row.updated_at, row.updated_by = "in_review", review, now(), actor
            summary = {"state": "in_review", "complete": review["complete"], "blocking": review["blocking"]}
            self.store.audit(s, actor, "review", ENTITY, entity_id(site, unit, month), before, summary)
            s.flush()
            return self._month(row, site, unit, month)

    def lock(
        self, site: str, unit: str, month: str, snapshot: dict[str, Any], reason: str, actor: str, *, revise: bool
    ) -> dict[str, Any]:
        """Approve (in_review → approved, revision 1) or revise (approved/filed → approved, revision n+1)."""
        eid = entity_id(site, unit, month)
        with self._change(eid) as s:
            row = self._row(s, site, unit, month)
            state = "open" if row is None else row.state
            if not revise and state != "in_review":
                raise Conflict(f"{eid} is {state}: only a month in review can be approved (review it first)")
            if revise and state not in ("approved", "filed"):
                raise Conflict(f"{eid} is {state}: only an approved or filed month is revised")
            assert row is not None
            prev = row.revision
            n = prev + 1
            s.add(
                ComplianceRevisionRow(
                    site=site,
                    unit=unit,
                    month=month,
                    revision=n,
                    snapshot=snapshot,
                    reason=reason,
                    created_at=now(),
                    created_by=actor,
                )
            )
            before = {"state": state, "revision": prev}
            row.state, row.revision, row.updated_at, row.updated_by = "approved", n, now(), actor
            if revise:
                row.filed_reference = None  # a filed month revised must be filed again
            after = {
                "state": "approved",
                "revision": n,
                "reason": reason,
                "direct_co2_t": snapshot["figures"]["direct_co2_t"],
                "inputs": {k: v for k, v in snapshot["inputs"].items() if k != "readings"},
                "readings_sha256": snapshot["inputs"]["readings"]["sha256"],
            }
            self.store.audit(s, actor, "revise" if revise else "approve", ENTITY, eid, before, after)
            s.flush()
            return self._month(row, site, unit, month)

    def file(self, site: str, unit: str, month: str, reference: str, actor: str) -> dict[str, Any]:
        """approved → filed, with the filing's reference (the platform's receipt)."""
        eid = entity_id(site, unit, month)
        with self._change(eid) as s:
            row = self._row(s, site, unit, month)
            if row is None:
                raise NotFound(f"{eid} was never reviewed")
            if row.state != "approved":
                raise Conflict(f"{eid} is {row.state}: only an approved month is filed")
            row.state, row.filed_reference, row.updated_at, row.updated_by = "filed", reference, now(), actor
            self.store.audit(
                s,
                actor,
                "file",
                ENTITY,
                eid,
                {"state": "approved"},
                {"state": "filed", "revision": row.revision, "reference": reference},
            )
            s.flush()
            return self._month(row, site, unit, month)
