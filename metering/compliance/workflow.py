"""The month as a workflow: evaluate (review + gap fill + account + snapshot), then review, approve, revise, file.

`evaluate` is pure: the same dataset gives the same review and snapshot. The actions take an
evaluation and move the month through the store: approve locks the snapshot as revision 1,
a later change is compared with the locked revision (`status` shows whether a recompute
differs) and only a revise with a reason makes revision n+1. Nothing rewrites a revision.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from metering.compliance.review import Review, review_month, with_fills
from metering.compliance.snapshot import diff, snapshot
from metering.compliance.store import ComplianceStore
from metering.direct.accounting import account
from metering.direct.figures import Accounts, Dataset, UnitResult
from metering.state.store import Conflict


@dataclass
class Evaluation:
    review: Review
    dataset: Dataset  # with the gap fills
    accounts: Accounts
    unit: UnitResult
    snapshot: dict[str, Any]


def evaluate(ds: Dataset, unit_id: str, month: str) -> Evaluation:
    """Review the unit's month, fill the gaps the rules fill, account it and take its snapshot."""
    review = review_month(ds, unit_id, month)
    filled = with_fills(ds, review)
    days = review_days(month)
    acc = account(filled, days[0], days[1])
    u = next(r for r in acc.units if r.unit.id == unit_id)
    return Evaluation(review, filled, acc, u, snapshot(filled, acc, u, review))


def review_days(month: str) -> tuple[dt.date, dt.date]:
    p = pd.Period(month, freq="M")
    return p.start_time.date(), p.end_time.date()


def do_review(cs: ComplianceStore, site: str, ev: Evaluation, actor: str) -> dict[str, Any]:
    return cs.set_review(site, ev.review.unit, ev.review.month, ev.review.as_dict(), actor)


def _no_blocking(ev: Evaluation) -> None:
    if ev.review.blocking:
        raise Conflict(
            f"{ev.review.unit} {ev.review.month} cannot be locked: {len(ev.review.blocking)} item(s) no rule can fill: "
            + "; ".join(ev.review.blocking)
        )


def do_approve(cs: ComplianceStore, site: str, ev: Evaluation, actor: str) -> dict[str, Any]:
    _no_blocking(ev)
    return cs.lock(site, ev.review.unit, ev.review.month, ev.snapshot, "approved", actor, revise=False)


def do_revise(cs: ComplianceStore, site: str, ev: Evaluation, reason: str, actor: str) -> dict[str, Any]:
    """A new locked revision, only when the recomputed month differs from the locked one."""
    reason = reason.strip()
    if not reason:
        raise ValueError("reason: a revision needs a reason (what changed and why)")
    _no_blocking(ev)
    revs = cs.revisions(site, ev.review.unit, ev.review.month)
    if revs and not diff(revs[-1]["snapshot"], ev.snapshot):
        raise Conflict(
            f"{ev.review.unit} {ev.review.month}: the recomputed month equals revision {revs[-1]['revision']}: "
            "nothing to revise"
        )
    return cs.lock(site, ev.review.unit, ev.review.month, ev.snapshot, reason, actor, revise=True)


def status(cs: ComplianceStore, site: str, unit: str, month: str, ev: Evaluation | None) -> dict[str, Any]:
    """The month's state, its revisions side by side with the diff of each against the one before,
    and, with an evaluation, whether a recompute now differs from the locked revision."""
    m = cs.get(site, unit, month)
    revs = cs.revisions(site, unit, month)
    out_revs = []
    for i, r in enumerate(revs):
        out_revs.append(
            {
                "revision": r["revision"],
                "reason": r["reason"],
                "created_at": r["created_at"],
                "created_by": r["created_by"],
                "figures": r["snapshot"]["figures"],
                "diff_from_previous": diff(revs[i - 1]["snapshot"], r["snapshot"]) if i else [],
            }
        )
    out: dict[str, Any] = {**m, "revisions": out_revs}
    if ev is not None:
        out["current"] = {"figures": ev.snapshot["figures"], "review": ev.review.as_dict()}
        if revs:
            d = diff(revs[-1]["snapshot"], ev.snapshot)
            out["recompute"] = {"differs": bool(d), "against_revision": revs[-1]["revision"], "diff": d}
    return out
