"""Completeness review of a unit's month per parameter, and gap filling by the documented rules only.

Pure functions over the direct-emissions dataset (metering/direct): which days of the month
have no meter reading or no lab sample, which values come from the method's defaults, and
which days a rule of rules.yaml fills (a parameter that must be measured, filled with the
month's most conservative measured value). A fill is written as a lab row of its own
(sample `FILL-…`, lab `gap-fill`, the rule in `standard`), so the accounting uses it like a
sample and every figure names it in its provenance. What no rule can fill (a meter with no
reading on a day, a must-measure parameter with no sample at all in the month) is a
blocking item: the month cannot be approved until the data are entered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from metering.compliance.rules import Rules, load_rules
from metering.direct.config import EmissionUnit
from metering.direct.figures import Dataset
from metering.direct.lab import LAB_COLUMNS, LabBook, validate_lab

FILL_LAB = "gap-fill"
FILL_BY = "compliance gap-fill"


@dataclass
class Item:
    """One parameter (or activity) of the unit's month and how complete it is."""

    kind: str  # activity | lab
    material: str
    parameter: str
    unit: str
    days: int
    measured_days: int
    missing_days: list[str]
    basis: str  # measured | stock | default | mixed | filled | missing
    status: str  # ok | default | filled | blocking
    samples: list[str] = field(default_factory=list)
    default: dict[str, Any] | None = None
    fill: dict[str, Any] | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Review:
    unit: str
    month: str
    items: list[Item]
    fills: list[dict[str, Any]]  # the lab rows the rules add (text cells, LAB_COLUMNS)

    @property
    def blocking(self) -> list[str]:
        return [f"{i.material} {i.parameter}: {i.note}" for i in self.items if i.status == "blocking"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "month": self.month,
            "complete": not self.blocking,
            "blocking": self.blocking,
            "items": [i.as_dict() for i in self.items],
        }


def month_days(month: str) -> pd.DatetimeIndex:
    p = pd.Period(month, freq="M")
    return pd.date_range(p.start_time, p.end_time.normalize(), freq="D")


def unit_materials(unit: EmissionUnit) -> list[str]:
    mats = [unit.clinker, unit.raw_meal, *unit.fuels, *unit.dust, unit.cement]
    return [m for m in mats if m is not None]


def _iso(days: pd.DatetimeIndex) -> list[str]:
    return [d.date().isoformat() for d in days]


def _runs(days: pd.DatetimeIndex) -> list[tuple[dt.date, dt.date]]:
    """Contiguous runs of days: each becomes one fill row."""
    out: list[tuple[dt.date, dt.date]] = []
    for d in days:
        day = d.date()
        if out and out[-1][1] + dt.timedelta(days=1) == day:
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def _activity_item(ds: Dataset, mid: str, days: pd.DatetimeIndex, month: str) -> Item | None:
    mat = ds.cfg.materials[mid]
    if mat.kind == "dust":  # dust is a recorded quantity (a lab-book row), reviewed with the parameters
        return None
    if mat.activity == "stock":
        rows = ds.stocks[ds.stocks["material"] == mid] if ds.stocks is not None else pd.DataFrame()
        rows = rows[rows["month"].astype(str) == month] if not rows.empty else rows
        if rows.empty:
            return Item(
                "activity",
                mid,
                "stock balance",
                "t",
                len(days),
                0,
                _iso(days),
                "missing",
                "blocking",
                note=f"no stock balance for {month}: enter the stock-take (opening, receipts, closing)",
            )
        refs = [f"stock {r['reference']} (row {r['row']})" for r in rows.to_dict("records")]
        return Item("activity", mid, "stock balance", "t", len(days), len(days), [], "stock", "ok", refs)
    seen = pd.DatetimeIndex([])
    r = ds.readings
    if r is not None and not r.empty:
        mine = r[r["device"].astype(str).isin(mat.devices) & (r["quantity"].astype(str) == "mass_t")]
        local = pd.DatetimeIndex(mine["time"]).tz_convert(ds.plant.site.timezone).tz_localize(None).normalize()
        # A day is covered when every weigher of the material reported on it.
        per_dev = [set(local[(mine["device"].astype(str) == d).to_numpy()]) for d in mat.devices]
        seen = pd.DatetimeIndex(sorted(set.intersection(*per_dev))) if per_dev else seen
    blind = days[~days.isin(seen)]
    if len(blind):
        return Item(
            "activity",
            mid,
            "metered tonnes",
            "t",
            len(days),
            len(days) - len(blind),
            _iso(blind),
            "missing" if len(blind) == len(days) else "mixed",
            "blocking",
            [f"meters {', '.join(mat.devices)}"],
            note=f"no mass_t reading of {', '.join(mat.devices)} on {len(blind)} day(s); no rule fills "
            "metered tonnes: enter the readings, or switch the material to its stock balance",
        )
    return Item(
        "activity",
        mid,
        "metered tonnes",
        "t",
        len(days),
        len(days),
        [],
        "measured",
        "ok",
        [f"meters {', '.join(mat.devices)}"],
    )


def _lab_item(
    ds: Dataset, rules: Rules, unit_id: str, mid: str, name: str, days: pd.DatetimeIndex
) -> tuple[Item, list[dict[str, Any]]]:
    kind = ds.cfg.materials[mid].kind
    par = ds.method.parameter(kind, name)
    cur = ds.lab.current
    rows = cur[(cur["material"] == mid) & (cur["parameter"] == name)] if not cur.empty else cur
    covered = pd.Series(False, index=days)
    samples: list[str] = []
    values: list[float] = []
    for rec in rows.to_dict("records"):
        m = (days >= pd.Timestamp(rec["period_start"])) & (days <= pd.Timestamp(rec["period_end"]))
        if m.any():
            covered[m] = True
            samples.append(f"{rec['sample_id']}@{rec['version']}")
            values.append(float(rec["value"]))
    gaps = days[~covered.to_numpy()]
    n, n_cov = len(days), int(covered.sum())
    if not len(gaps):
        return Item("lab", mid, name, par.unit, n, n_cov, [], "measured", "ok", samples), []
    if par.default is not None:
        d = {
            "value": par.default.value,
            "source": par.default.source,
            "confirmed": par.default.confirmed,
            "days": len(gaps),
            "ref": f"{ds.method.ref} {kind}.{name}",
        }
        basis = "default" if n_cov == 0 else "mixed"
        return Item(
            "lab",
            mid,
            name,
            par.unit,
            n,
            n_cov,
            _iso(gaps),
            basis,
            "default",
            samples,
            default=d,
            note=f"method default {par.default.value:g} {par.unit} on {len(gaps)} day(s)",
        ), []
    if not values:
        return Item(
            "lab",
            mid,
            name,
            par.unit,
            n,
            0,
            _iso(gaps),
            "missing",
            "blocking",
            samples,
            note="must be measured and no sample covers any day of the month: no rule can fill it",
        ), []
    rule = rules.fill_rule(kind, name)
    value = max(values) if rule == "max-of-month" else min(values)
    fills = [
        dict(
            zip(
                LAB_COLUMNS,
                [
                    f"FILL-{unit_id}-{mid}-{name}-{a:%Y%m%d}",
                    "1",
                    mid,
                    name,
                    repr(value),
                    par.unit,
                    a.isoformat(),
                    b.isoformat(),
                    f"rule {rule}",
                    FILL_LAB,
                    FILL_BY,
                    "",
                ],
                strict=True,
            )
        )
        for a, b in _runs(gaps)
    ]
    fill = {
        "rule": rule,
        "text": rules.rules[rule].text,
        "confirmed": rules.rules[rule].confirmed,
        "value": value,
        "days": len(gaps),
        "samples": [f"{f['sample_id']}@1" for f in fills],
    }
    return Item(
        "lab",
        mid,
        name,
        par.unit,
        n,
        n_cov,
        _iso(gaps),
        "filled",
        "filled",
        samples,
        fill=fill,
        note=f"{len(gaps)} day(s) without a sample filled with {value:g} {par.unit} by rule {rule}",
    ), fills


def review_month(ds: Dataset, unit_id: str, month: str, rules: Rules | None = None) -> Review:
    """Every activity and parameter of the unit over the month's local days: covered, defaulted, filled, or blocking."""
    rules = rules or load_rules()
    unit = ds.cfg.unit(unit_id)
    days = month_days(month)
    items: list[Item] = []
    fills: list[dict[str, Any]] = []
    for mid in unit_materials(unit):
        act = _activity_item(ds, mid, days, month)
        if act is not None:
            items.append(act)
        kind = ds.cfg.materials[mid].kind
        for name in ds.method.materials[kind].parameters:
            item, f = _lab_item(ds, rules, unit.id, mid, name, days)
            items.append(item)
            fills += f
    return Review(unit.id, month, items, fills)


def with_fills(ds: Dataset, review: Review) -> Dataset:
    """The dataset with the review's fill rows added to its lab book (validated like any lab row)."""
    if not review.fills:
        return ds
    hist = ds.lab.history
    text = pd.DataFrame(
        {
            **{c: hist[c].astype(str) for c in LAB_COLUMNS if c not in ("value",)},
            "value": [repr(float(v)) for v in hist["value"]],
        },
        columns=LAB_COLUMNS,
    )
    both = pd.concat([text, pd.DataFrame(review.fills, columns=LAB_COLUMNS)], ignore_index=True)
    both["row"] = [str(r) for r in range(2, len(both) + 2)]
    book: LabBook = validate_lab(both, ds.cfg, ds.method, f"{ds.lab.source} + gap fills")
    return dataclasses.replace(ds, lab=book)
