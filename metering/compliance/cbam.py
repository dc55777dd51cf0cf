"""The CBAM communication's monthly figures: a month's latest locked revision where there is one, else the recompute."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from metering.compliance.store import ComplianceStore
from metering.compliance.workflow import evaluate
from metering.direct.cbam_comm import MonthFigures, Unit, communication, period_months
from metering.direct.cbam_defaults import load_defaults
from metering.direct.figures import Dataset


def _factors(row: dict[str, Any] | None) -> tuple[str, ...]:
    if row is None:
        return ()
    return tuple(f.strip() for f in str(row.get("electricity_factor", "")).split(",") if f.strip())


def month_figures(ds: Dataset, unit: str, month: str, cs: ComplianceStore | None) -> MonthFigures:
    """One month of `unit`; direct CO2 and clinker from the latest locked revision when the month is locked.

    The recompute is the month workflow's (gaps filled by the rules, as the review shows them).
    """
    ev = evaluate(ds, unit, month)
    u = ev.unit
    rows = {c["product"]: c for c in ev.accounts.cbam if c["unit"] == unit}
    clinker, cement = rows.get("clinker"), rows.get("cement")
    source, clinker_t, direct = "recompute", u.clinker_t, u.direct_co2_t
    snap = ev.snapshot
    if cs is not None:
        site = ds.plant.site.id
        state = cs.get(site, unit, month)["state"]
        revs = cs.revisions(site, unit, month)
        if state in ("approved", "filed") and revs:
            last = revs[-1]
            snap = last["snapshot"]
            source = f"locked revision {last['revision']}"
            clinker_t, direct = snap["figures"].get("clinker_t") or 0.0, snap["figures"].get("direct_co2_t") or 0.0
    inputs = snap["inputs"]
    trace = (
        f"readings sha256 {inputs['readings']['sha256'][:12]} ({inputs['readings']['count']}), "
        f"{len(inputs['lab'])} lab sample version(s), method {snap['method']}"
    )
    # What is default or gap-filled: of the lock when the figures are the lock's, else of the recompute.
    defaults = {f"{p['material']} {p['parameter']}" for p in snap["parameters"] if p["basis"] in ("default", "mixed")}
    filled = {" ".join(f.split(" ")[1:3]) for f in inputs["fills"]}
    return MonthFigures(
        month=month,
        source=source,
        trace=trace,
        missing=() if source != "recompute" else tuple(u.missing),
        clinker_t=clinker_t,
        direct_co2_t=direct,
        electricity_mwh=clinker["electricity_mwh"] if clinker else 0.0,
        electricity_co2_t=clinker["indirect_tco2"] if clinker else 0.0,
        electricity_factors=_factors(clinker),
        cement_t=cement["production_t"] if cement else 0.0,
        cement_clinker_t=cement["precursor"]["t"] if cement else 0.0,
        mill_mwh=cement["electricity_mwh"] if cement else 0.0,
        mill_co2_t=cement["mill_indirect_tco2"] if cement else 0.0,
        mill_factors=_factors(cement),
        defaults_used=tuple(sorted(defaults)),
        filled=tuple(sorted(filled)),
    )


def build_communication(
    ds: Dataset,
    unit: str,
    period: str,
    cs: ComplianceStore | None,
    markup_year: int | None = None,
    month_ds: Callable[[str], Dataset] | None = None,
) -> dict[str, Any]:
    """The unit's CBAM communication over `period` (YYYY, YYYYQn or YYYY-MM) as a JSON-able dict.

    `month_ds` gives each month's dataset when `ds` holds no readings of its own (the live store
    reads one month at a time, so a year never holds a year of readings in memory).
    """
    eu = ds.cfg.unit(unit)
    months = [month_figures(month_ds(m) if month_ds else ds, unit, m, cs) for m in period_months(period)]
    u = Unit(site=ds.plant.site.id, id=eu.id, name=eu.name, has_cement=eu.cement is not None)
    return communication(u, period, months, ds.cfg.cbam, load_defaults(), markup_year)
