"""The EU CBAM communication of one installation's unit over a period: pure arithmetic on monthly figures.

In: per month the unit's clinker, direct CO2 and electricity (with where they came from: a
locked revision or the recompute), the cement ground from its clinker, the plant's CBAM inputs
(installation, carbon price paid, exports) and the EU default values file. Out: one plain dict,
the JSON of the communication; the XLSX writer (cbam_xlsx.py) lays the same dict out.
Boundary: CBAM specific embedded emissions (SEE), direct and indirect (electricity × its
location-based factor), clinker as the precursor of cement (docs/cbam.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from metering.direct.cbam_defaults import Defaults
from metering.direct.config import CbamInputs

CLINKER_CN = "2523 10 00"
CEMENT_CN = "2523 29 00"
TEMPLATE = "EU CBAM communication template for installations, version 2.1 (2024-06-05)"
BOUNDARY = (
    "EU CBAM embedded emissions: specific direct (fuel + process CO2 of the clinker line) and indirect "
    "(electricity × its location-based grid factor) per tonne of good; clinker as precursor of cement"
)


@dataclass(frozen=True)
class MonthFigures:
    """One month of the unit: the figures a communication sums, and where each came from."""

    month: str
    source: str  # "locked revision N" or "recompute"
    clinker_t: float
    direct_co2_t: float
    electricity_mwh: float
    electricity_co2_t: float
    electricity_factors: tuple[str, ...] = ()
    cement_t: float = 0.0
    cement_clinker_t: float = 0.0
    mill_mwh: float = 0.0
    mill_co2_t: float = 0.0
    mill_factors: tuple[str, ...] = ()
    defaults_used: tuple[str, ...] = ()  # parameters on a method default (their direct SEE is partly default)
    filled: tuple[str, ...] = ()  # parameters with days gap-filled by the workflow's rules
    trace: str = ""  # the inputs behind the month's figures (readings digest, lab versions, method)
    missing: tuple[str, ...] = ()  # what the recompute found missing (a locked month was reviewed)


@dataclass(frozen=True)
class Unit:
    site: str
    id: str
    name: str
    has_cement: bool = False


def period_months(period: str) -> list[str]:
    """'2026' → the year's months, '2026Q1' → the quarter's, '2026-01' → that month (YYYY-MM each)."""
    if "Q" in period:
        q = pd.Period(period, freq="Q")
        return [str(pd.Period(q.start_time, freq="M") + i) for i in range(3)]
    if "-" in period:
        return [str(pd.Period(period, freq="M"))]
    return [f"{period}-{m:02d}" for m in range(1, 13)]


def period_year(period: str) -> int:
    return int(period[:4])


def _per(x: float, t: float) -> float | None:
    return x / t if t > 0 else None


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _factor(co2: float, mwh: float, ids: set[str]) -> dict[str, Any]:
    return {
        "ids": sorted(ids),
        "tco2_per_mwh": _num(_per(co2, mwh)),
        "method": "location-based grid factor (factor registry id@version)",
    }


def _default_row(defaults: Defaults, cn: str, country: str, year: int, actual: float | None) -> dict[str, Any]:
    """The EU default next to the actual total: default × (1 + mark-up of `year`) and the difference per tonne."""
    dv = defaults.value(cn, country)
    markup = defaults.markup.for_year(year)
    if dv is None or not dv.known:
        return {
            "available": False,
            "note": (dv.source if dv is not None else f"no default for {cn} {country} in the data file"),
            "markup_year": year,
            "markup": markup,
            "regulation": defaults.regulation.id,
        }
    marked = dv.marked_up(markup)
    assert marked is not None
    return {
        "available": True,
        "direct": dv.direct,
        "indirect": dv.indirect,
        "total": dv.total_value,
        "markup_year": year,
        "markup": markup,
        "direct_with_markup": dv.direct * (1.0 + markup) if dv.direct is not None else None,
        "indirect_with_markup": dv.indirect * (1.0 + markup) if dv.indirect is not None else None,
        "total_with_markup": marked,
        "saving_per_t": None if actual is None else marked - actual,
        "source": dv.source,
        "confirmed": dv.confirmed and defaults.markup.confirmed,
        "regulation": defaults.regulation.id,
    }


def _exported(inputs: CbamInputs | None, product: str, period: str) -> float | None:
    if inputs is None:
        return None
    ts = [e.t for e in inputs.exports if e.product == product and e.period == period]
    return float(sum(ts)) if ts else None


def _carbon_price(inputs: CbamInputs | None, year: int, see_direct: float | None) -> dict[str, Any]:
    """CNY per tonne of good effectively paid in the national ETS: direct SEE × share not free × price."""
    cp = next((c for c in inputs.carbon_prices if c.year == year), None) if inputs else None
    if cp is None:
        return {"available": False, "note": f"no carbon price input for {year} (carbon.cbam.carbon_prices)"}
    if see_direct is None:
        return {"available": False, "note": "no production in the period: no SEE to price"}
    tco2_paid = see_direct * cp.share_not_free
    cny = tco2_paid * cp.price_cny_per_t
    return {
        "available": True,
        "scheme": "China national carbon emissions trading market (全国碳排放权交易市场): direct emissions only",
        "year": year,
        "price_cny_per_tco2": cp.price_cny_per_t,
        "share_not_free": cp.share_not_free,
        "tco2_paid_per_t": tco2_paid,
        "cny_per_t": cny,
        "eur_per_t": None if cp.cny_per_eur is None else cny / cp.cny_per_eur,
        "cny_per_eur": cp.cny_per_eur,
        "source": cp.source,
        "method": "carbon price paid per tonne of good = SEE direct × share of emissions not covered by free "
        "allocation × allowance price (the exporter's declaration input; no rebate or compensation deducted)",
    }


def _product(
    *,
    product: str,
    cn: str,
    production_t: float,
    direct: float,
    indirect: float,
    mwh: float,
    factor: dict[str, Any],
    flags: dict[str, str],
    defaults: Defaults,
    country: str,
    year: int,
    period: str,
    inputs: CbamInputs | None,
) -> dict[str, Any]:
    see_d, see_i = _per(direct, production_t), _per(indirect, production_t)
    total = None if see_d is None or see_i is None else see_d + see_i
    dflt = _default_row(defaults, cn, country, year, total)
    exported = _exported(inputs, product, period)
    saving = dflt.get("saving_per_t")
    return {
        "product": product,
        "cn_code": cn,
        "production_t": production_t,
        "direct_tco2": direct,
        "indirect_tco2": indirect,
        "see_direct": _num(see_d),
        "see_indirect": _num(see_i),
        "see_total": _num(total),
        "electricity_mwh": mwh,
        "electricity_mwh_per_t": _num(_per(mwh, production_t)),
        "electricity_factor": factor,
        "value_basis": flags,
        "eu_default": dflt,
        "exported_t": exported,
        "saving_exported_tco2": None if saving is None or exported is None else saving * exported,
        "carbon_price_paid": _carbon_price(inputs, year, see_d),
    }


def communication(
    unit: Unit,
    period: str,
    months: list[MonthFigures],
    inputs: CbamInputs | None,
    defaults: Defaults,
    markup_year: int | None = None,
) -> dict[str, Any]:
    """The communication of `unit` over `period` from its months (JSON-able dict; XLSX lays it out)."""
    year = markup_year or period_year(period)
    country = inputs.installation.country if inputs else "CN"
    clinker_t = sum(m.clinker_t for m in months)
    direct = sum(m.direct_co2_t for m in months)
    mwh = sum(m.electricity_mwh for m in months)
    co2 = sum(m.electricity_co2_t for m in months)
    defaults_used = sorted({d for m in months for d in m.defaults_used})
    filled = sorted({d for m in months for d in m.filled})
    direct_basis = (
        "actual (metered tonnes and lab analyses)"
        + (f"; method defaults for: {', '.join(defaults_used)}" if defaults_used else "")
        + (f"; days gap-filled by rule for: {', '.join(filled)}" if filled else "")
    )
    clinker = _product(
        product="clinker",
        cn=CLINKER_CN,
        production_t=clinker_t,
        direct=direct,
        indirect=co2,
        mwh=mwh,
        factor=_factor(co2, mwh, {f for m in months for f in m.electricity_factors}),
        flags={
            "see_direct": direct_basis,
            "see_indirect": "actual (metered electricity × grid factor)",
            "electricity": "actual (metered)",
        },
        defaults=defaults,
        country=country,
        year=year,
        period=period,
        inputs=inputs,
    )
    products = [clinker]
    precursors: list[dict[str, Any]] = []
    if unit.has_cement:
        cement_t = sum(m.cement_t for m in months)
        used = sum(m.cement_clinker_t for m in months)
        mill_mwh = sum(m.mill_mwh for m in months)
        mill_co2 = sum(m.mill_co2_t for m in months)
        see_d, see_i = clinker["see_direct"] or 0.0, clinker["see_indirect"] or 0.0
        cement = _product(
            product="cement",
            cn=inputs.cement_cn_code if inputs else CEMENT_CN,
            production_t=cement_t,
            direct=used * see_d,
            indirect=used * see_i + mill_co2,
            mwh=mill_mwh,
            factor=_factor(mill_co2, mill_mwh, {f for m in months for f in m.mill_factors}),
            flags={
                "see_direct": "actual: the precursor clinker's direct SEE × clinker used (grinding has no direct "
                "emissions metered)",
                "see_indirect": "actual: the precursor's indirect SEE × clinker used + the mill's metered electricity "
                "× grid factor",
                "electricity": "actual (metered, cement mill)",
                "clinker_share": "actual (lab clinker_share per day × cement tonnes)",
            },
            defaults=defaults,
            country=country,
            year=year,
            period=period,
            inputs=inputs,
        )
        cement["clinker_share"] = _num(_per(used, cement_t))
        products.append(cement)
        precursors.append(
            {
                "good": "cement",
                "precursor": "clinker",
                "cn_code": CLINKER_CN,
                "origin": "own installation (same clinker line)",
                "consumed_t": used,
                "share_of_good": cement["clinker_share"],
                "see_direct": clinker["see_direct"],
                "see_indirect": clinker["see_indirect"],
                "embedded_direct_tco2": used * see_d,
                "embedded_indirect_tco2": used * see_i,
                "value_basis": "actual (the installation's own clinker figures of the same period)",
            }
        )
    sources = {m.source for m in months}
    locked = [m.month for m in months if m.source != "recompute"]
    basis = "locked months" if len(locked) == len(months) else ("recompute" if not locked else "mixed")
    warnings = [f"{m.month}: no clinker produced (no readings in the month?)" for m in months if m.clinker_t <= 0]
    warnings += [f"{m.month}: {w}" for m in months if m.clinker_t > 0 for w in m.missing]
    return {
        "template": TEMPLATE,
        "boundary": BOUNDARY,
        "site": unit.site,
        "unit": unit.id,
        "unit_name": unit.name,
        "installation": inputs.installation.model_dump() if inputs else None,
        "period": period,
        "start": str(pd.Period(months[0].month, freq="M").start_time.date()) if months else None,
        "end": str(pd.Period(months[-1].month, freq="M").end_time.date()) if months else None,
        "months": [m.month for m in months],
        "basis": {
            "figures": basis,
            "note": "direct CO2 and clinker from each month's latest locked revision where the month is locked, "
            "else the recompute from readings, lab and stocks; electricity and cement from the recompute "
            "(a lock keeps the ETS figures only)",
            "per_month": [
                {
                    "month": m.month,
                    "source": m.source,
                    "clinker_t": m.clinker_t,
                    "direct_co2_t": m.direct_co2_t,
                    "inputs": m.trace,
                }
                for m in months
            ],
            "sources": sorted(sources),
        },
        "products": products,
        "precursors": precursors,
        "defaults_file": {
            "regulation": defaults.regulation.id,
            "annex": defaults.regulation.annex,
            "confirmed": defaults.regulation.confirmed,
            "markup_source": defaults.markup.source,
        },
        "warnings": warnings,
    }
