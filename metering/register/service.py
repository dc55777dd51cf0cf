"""The register's running parts: sync with the plant file, the calibration/class check through the alert engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from metering.register.checks import Emit, findings, sync
from metering.register.store import RegisterStore
from metering.state.store import Store
from plantcarbon_core.plant import Plant


def run_check(
    store: Store, plant: Plant, emit: Emit, today: dt.date, due_within_days: int, at: dt.datetime
) -> dict[str, Any]:
    """Check the register as of `today`: fire new findings, resolve the ones gone; what was found and done."""
    reg = RegisterStore(store)
    reg.sync(plant)
    found = findings(reg.list(plant.site.id), today, due_within_days)
    done = sync(store, plant.site.id, found, emit, at)
    return {
        "today": today.isoformat(),
        "due_within_days": due_within_days,
        "findings": [
            {"rule": f.rule, "instrument": f.instrument, "kind": f.kind, "severity": f.severity, "message": f.message}
            for f in found
        ],
        **done,
    }


def periodic_check(store: Store, plant: Plant, emit: Emit, due_within_days: int) -> Callable[[], None]:
    """The check as the alert engine runs it: today is the site's local date at the time of the run."""

    def run() -> None:
        now = dt.datetime.now(dt.UTC)
        run_check(store, plant, emit, now.astimezone(plant.site.tz).date(), due_within_days, now)

    return run
