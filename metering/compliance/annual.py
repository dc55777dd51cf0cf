"""The emission unit's annual report built only from its locked months (the latest revision of each)."""

from __future__ import annotations

from typing import Any

from metering.compliance.deadlines import months_of
from metering.compliance.snapshot import FIGURES
from metering.compliance.store import ComplianceStore

SUMMED = tuple(f for f in FIGURES if f != "intensity_tco2_per_t")


def annual_report(cs: ComplianceStore, site: str, unit: str, year: int) -> dict[str, Any]:
    """Sum of the locked months' figures; months not yet locked are listed, never estimated.

    Every month row names the revision it comes from, so the annual figure traces to a locked
    snapshot (and through it to lab sample versions, defaults, factors and a readings digest).
    """
    months: list[dict[str, Any]] = []
    not_locked: list[str] = []
    totals = dict.fromkeys(SUMMED, 0.0)
    for month in months_of(year):
        m = cs.get(site, unit, month)
        revs = cs.revisions(site, unit, month)
        if m["state"] not in ("approved", "filed") or not revs:
            not_locked.append(month)
            months.append({"month": month, "state": m["state"], "revision": None})
            continue
        last = revs[-1]
        fig = last["snapshot"]["figures"]
        for k in SUMMED:
            totals[k] += fig.get(k) or 0.0
        months.append(
            {
                "month": month,
                "state": m["state"],
                "revision": last["revision"],
                "locked_at": last["created_at"],
                "locked_by": last["created_by"],
                "method": last["snapshot"]["method"],
                **{k: fig.get(k) for k in FIGURES},
            }
        )
    clinker = totals["clinker_t"]
    return {
        "site": site,
        "unit": unit,
        "year": year,
        "boundary": "national carbon market (ETS): direct emissions of the emission unit, fuel + process; "
        "biogenic CO2 memo only",
        "complete": not not_locked,
        "months_not_locked": not_locked,
        "totals": {**totals, "intensity_tco2_per_t": totals["direct_co2_t"] / clinker if clinker > 0 else None},
        "months": months,
    }
