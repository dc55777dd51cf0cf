"""The filing calendar: each month's due date by the deadline rule, its state and what is still missing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from metering.compliance.rules import Rules, load_rules


def months_of(year: int) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, 13)]


def deadline_view(
    year: int,
    unit: str,
    states: dict[str, dict[str, Any]],
    as_of: dt.date,
    rule_id: str | None = None,
    rules: Rules | None = None,
) -> dict[str, Any]:
    """One row per month of `year`: due date, state, revision, blocking items of the last review, overdue as of `as_of`.

    `states` maps 'YYYY-MM' to the stored month (ComplianceStore.get); months never touched are open.
    `as_of` is passed in (never read from the clock here) so that the view is reproducible.
    """
    rules = rules or load_rules()
    rid, rule = rules.deadlines.rule(rule_id)
    rows = []
    for month in months_of(year):
        m = states.get(month) or {"state": "open", "revision": 0, "review": None}
        due = rule.due(month)
        review = m.get("review")
        if review is None:
            missing: list[str] | None = None  # not reviewed yet: unknown
        else:
            missing = list(review.get("blocking", []))
        done = m["state"] == "filed"
        rows.append(
            {
                "month": month,
                "due": due.isoformat(),
                "state": m["state"],
                "revision": m.get("revision", 0),
                "missing": missing,
                "overdue": (not done) and as_of > due,
                "days_left": None if done else (due - as_of).days,
            }
        )
    return {
        "unit": unit,
        "year": year,
        "as_of": as_of.isoformat(),
        "rule": {"id": rid, **rule.model_dump()},
        "months": rows,
    }
