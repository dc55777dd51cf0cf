"""One activity dataset → direct emissions per emission unit and day, and the three boundaries built from it.

Every figure is a sum of days: the activity of a day (metered tonnes, or the month's stock
balance spread over the days by clinker output), that day's lab values (the sample whose
period covers the day, else the method's default, marked so), and the formulas in
formulas.py. A month, or any period, is the sum of its days, so a day computed alone equals
that day inside the month.

Boundaries, never mixed (docs/direct-emissions.md):
- `ets`: national carbon market direct emissions per emission unit (fossil fuel + process);
  biogenic CO2 is a memo item, not counted; purchased electricity is outside;
- `gbt32150`: scope 1 (the units' direct emissions plus other metered fuels of the site that
  no unit counts) and scope 2 location- and market-based, each total labelled with its
  method; the location and market rows are never added together;
- `cbam`: specific embedded emissions per tonne of clinker, direct and indirect
  (the line's electricity × its location factor), and per tonne of cement with clinker as
  its precursor (the clinker it contains at the clinker's figures, plus the mill's electricity).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metering.carbon.emissions import Result, compute
from metering.carbon.intervals import compute_intervals
from metering.direct import formulas as fx
from metering.direct.cbam import cbam_days, cbam_rows
from metering.direct.config import EmissionUnit
from metering.direct.figures import Accounts, Dataset, Param, UnitResult

# What the tonnes of a material are called in a figure.
ACTIVITY_NAME = {"clinker": "produced_t", "raw_meal": "fed_t", "cement": "produced_t"}


# --- days and activity -------------------------------------------------------------------


def local_days(start: dt.date, end: dt.date) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="D")


def _months(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """Whole months covering [start, end]: stock balances and readings are taken per month."""
    first = start.replace(day=1)
    last = (pd.Timestamp(end) + pd.offsets.MonthEnd(0)).date()
    return first, last


def _utc(day: dt.date, tz: str) -> pd.Timestamp:
    return pd.Timestamp(day).tz_localize(tz).tz_convert("UTC")


@dataclass
class _Metered:
    daily: pd.DataFrame  # index day, columns device → tonnes (mass_t)
    notes: dict[str, str]  # device → provenance
    energy: Result | None
    covered: pd.DataFrame | None = None  # index day, columns device → number of intervals with data


def _metered(ds: Dataset, first: dt.date, last: dt.date) -> _Metered:
    tz = ds.plant.site.timezone
    days = local_days(first, last)
    if ds.readings is None or ds.readings.empty:
        return _Metered(pd.DataFrame(index=days), {}, None)
    t0, t1 = _utc(first, tz), _utc(last + dt.timedelta(days=1), tz)
    iv = compute_intervals(ds.readings, ds.plant, start=t0, end=t1)
    mass = iv[iv["quantity"].astype(str) == "mass_t"]
    day = mass["interval_start"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
    daily = (
        mass.assign(day=day, device=mass["device"].astype(str))
        .pivot_table(index="day", columns="device", values="amount", aggfunc="sum", observed=True)
        .reindex(days)
        .fillna(0.0)
    )
    covered = (
        mass.assign(day=day, device=mass["device"].astype(str))
        .pivot_table(index="day", columns="device", values="amount", aggfunc="count", observed=True)
        .reindex(days)
        .fillna(0)
    )
    notes = {}
    for dev, g in mass.groupby(mass["device"].astype(str), observed=True):
        est = int(g["estimated"].sum())
        notes[str(dev)] = (
            f"meter {dev} mass_t: {len(g)} intervals {g['interval_start'].min():%Y-%m-%dT%H:%MZ}.."
            f"{g['interval_start'].max():%Y-%m-%dT%H:%MZ}, completeness {g['completeness'].mean():.4f}"
            + (f", {est} estimated" if est else "")
        )
    energy = compute(iv, ds.plant, ds.registry, ds.green) if ds.registry is not None else None
    return _Metered(daily, notes, energy, covered)


def _material_daily(
    ds: Dataset, mid: str, met: _Metered, spread: pd.Series, days: pd.DatetimeIndex, keep: np.ndarray
) -> tuple[pd.Series, Param, dict[str, Any] | None]:
    """Tonnes per day of a material, its provenance, and the meter/stock reconciliation if both exist."""
    mat = ds.cfg.materials[mid]
    name = ACTIVITY_NAME.get(mat.kind, "consumed_t")
    metered = pd.Series(0.0, index=days)
    have_meter = [d for d in mat.devices if d in met.daily.columns]
    for d in have_meter:
        metered = metered + met.daily[d].reindex(days).fillna(0.0)
    stock = _stock_daily(ds, mid, spread, days)
    recon = None
    if stock is not None and mat.devices:
        m_t, s_t = float(metered[keep].sum()), float(stock[0][keep].sum())
        diff = m_t - s_t
        pct = 100.0 * diff / s_t if s_t > 0 else float("inf") if diff else 0.0
        recon = {
            "material": mid,
            "metered_t": m_t,
            "stock_t": s_t,
            "difference_t": diff,
            "difference_pct": pct,
            "threshold_pct": ds.cfg.reconcile_threshold_pct,
            "flagged": bool(abs(pct) > ds.cfg.reconcile_threshold_pct),
        }
    if mat.activity == "stock":
        if stock is None:
            return (
                pd.Series(np.nan, index=days),
                Param("", mid, name, float("nan"), "t", "missing", [f"no stock balance for {mid}"]),
                recon,
            )
        return stock[0], Param("", mid, name, float(stock[0][keep].sum()), "t", "stock", stock[1]), recon
    notes = [met.notes[d] for d in have_meter] or [f"meters {', '.join(mat.devices)}: no readings in the period"]
    basis = "measured"
    blind = _blind_days(met, mat.devices, days, keep)
    if len(blind):
        basis = "missing" if len(blind) == int(keep.sum()) else "mixed"
        notes.append(f"no readings at all for {len(blind)} day(s): {_ranges([d.date().isoformat() for d in blind])}")
    return metered, Param("", mid, name, float(metered[keep].sum()), "t", basis, notes), recon


def _blind_days(met: _Metered, devices: list[str], days: pd.DatetimeIndex, keep: np.ndarray) -> pd.DatetimeIndex:
    """Kept days on which a meter of the material has no interval at all (a stopped feeder still reports)."""
    if met.covered is None:
        return days[keep]
    cov = met.covered.reindex(index=days, columns=devices).fillna(0)
    return days[keep & cov.eq(0).any(axis=1).to_numpy()]


def _stock_daily(
    ds: Dataset, mid: str, spread: pd.Series, days: pd.DatetimeIndex
) -> tuple[pd.Series, list[str]] | None:
    if ds.stocks is None:
        return None
    rows = ds.stocks[ds.stocks["material"] == mid]
    if rows.empty:
        return None
    out = pd.Series(0.0, index=days)
    notes = []
    month_of = days.to_period("M")
    for rec in rows.to_dict("records"):
        in_month = month_of == rec["month"]
        if not in_month.any():
            continue
        w = spread[in_month].to_numpy()
        w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
        out[in_month] = rec["consumed_t"] * w
        notes.append(
            f"stock {mid} {rec['month']} row {rec['row']} ({rec['reference']}): {rec['opening_t']:g} + "
            f"{rec['receipts_t']:g} − {rec['closing_t']:g} = {rec['consumed_t']:g} t, "
            "spread over days by clinker output"
        )
    return (out, notes) if notes else None


def _param_daily(
    ds: Dataset, mid: str, name: str, days: pd.DatetimeIndex, weights: pd.Series, unit_id: str, keep: np.ndarray
) -> tuple[pd.Series, Param, list[str]]:
    """A parameter's value per day from the lab (else the default), its summary Param and missing-day notes."""
    kind = ds.cfg.materials[mid].kind
    par = ds.method.parameter(kind, name)
    cur = ds.lab.current
    rows = cur[(cur["material"] == mid) & (cur["parameter"] == name)] if not cur.empty else cur
    value = pd.Series(np.nan, index=days)
    refs: list[str] = []
    measured = np.zeros(len(days), dtype=bool)
    for rec in rows.to_dict("records"):
        m = (days >= pd.Timestamp(rec["period_start"])) & (days <= pd.Timestamp(rec["period_end"]))
        if not m.any():
            continue
        v = rec["value"]
        if name == "mass_t":  # a recorded quantity is spread evenly over its period's days
            v = v / ((rec["period_end"] - rec["period_start"]).days + 1)
        value[m] = v
        measured |= m
        if not (m & keep).any():
            continue
        refs.append(
            f"lab {rec['sample_id']}@{rec['version']} ({rec['lab']}, {rec['standard'] or 'no standard'}, "
            f"{rec['period_start']}..{rec['period_end']}, entered by {rec['entered_by']})"
        )
    missing: list[str] = []
    gaps = ~measured
    kept_gaps = gaps & keep
    if gaps.any():
        if par.default is not None:
            value[gaps] = par.default.value
            if kept_gaps.any():
                refs.append(
                    f"default {par.default.value:g} {par.unit} for {int(kept_gaps.sum())} day(s): "
                    f"{par.default.source}" + ("" if par.default.confirmed else " [unconfirmed]")
                )
        elif kept_gaps.any():
            gap_days = [d.date().isoformat() for d in days[kept_gaps]]
            missing.append(
                f"{unit_id}: {mid} {name}: must be measured, no sample for {len(gap_days)} day(s): {_ranges(gap_days)}"
            )
    mk = measured[keep]
    basis = "measured" if mk.all() else ("default" if not mk.any() and par.default else "mixed")
    if not mk.any() and par.default is None:
        basis = "missing"
    vk, wk = value[keep], weights[keep]
    if name == "mass_t":
        summary = float(vk.sum())
    else:
        w = wk.where(vk.notna(), 0.0)
        summary = float((vk.fillna(0) * w).sum() / w.sum()) if w.sum() > 0 else float(vk.mean())
    return value, Param(unit_id, mid, name, summary, par.unit, basis, refs), missing


def _ranges(days: list[str]) -> str:
    if len(days) <= 3:
        return ", ".join(days)
    return f"{days[0]}..{days[-1]} ({len(days)} days)"


# --- one unit ----------------------------------------------------------------------------


def account_unit(
    ds: Dataset, unit: EmissionUnit, met: _Metered, days: pd.DatetimeIndex, keep: np.ndarray
) -> UnitResult:
    """Daily figures over whole months `days`; sums, parameter summaries and missing days over the kept days."""
    params: list[Param] = []
    missing: list[str] = []
    recon: list[dict[str, Any]] = []
    frame = pd.DataFrame(index=days)
    uniform = pd.Series(1.0, index=days)

    def activity(mid: str, spread: pd.Series) -> pd.Series:
        series, p, r = _material_daily(ds, mid, met, spread, days, keep)
        p.unit_id = unit.id
        params.append(p)
        if r is not None:
            recon.append(r)
        if p.basis == "missing" and not p.provenance[-1].startswith("no readings at all"):
            missing.append(f"{unit.id}: {mid}: no activity data ({p.provenance[0]})")
        elif p.provenance and p.provenance[-1].startswith("no readings at all"):
            missing.append(f"{unit.id}: {mid}: meters {p.provenance[-1]}")
        return series.fillna(0.0)

    def param(mid: str, name: str, weights: pd.Series) -> pd.Series:
        v, p, miss = _param_daily(ds, mid, name, days, weights, unit.id, keep)
        params.append(p)
        missing.extend(miss)
        return v

    clinker = activity(unit.clinker, uniform)
    frame["clinker_t"] = clinker
    spread = clinker if clinker.sum() > 0 else uniform
    raw = activity(unit.raw_meal, spread) if unit.raw_meal else pd.Series(0.0, index=days)
    frame["raw_meal_t"] = raw

    # Fuels.
    fuels: list[dict[str, Any]] = []
    for mid in unit.fuels:
        kind = ds.cfg.materials[mid].kind
        fc = activity(mid, spread)
        ncv = param(mid, "ncv", fc)
        cc = param(mid, "carbon_content", fc)
        if kind == "fossil_fuel":
            of = param(mid, "oxidation_factor", fc)
            co2, bio = fx.fossil_fuel_co2(fc, ncv, cc, of), fc * 0.0
        elif kind == "alternative_fuel":
            ff = param(mid, "fossil_fraction", fc)
            co2, bio = fx.mixed_fuel_co2(fc, ncv, cc, ff)
        else:
            bio = fx.fuel_carbon_t(fc, ncv, cc) * fx.C_TO_CO2
            co2 = fc * 0.0
        frame[f"fuel_{mid}_t"] = fc
        frame[f"fuel_{mid}_co2_t"] = co2
        frame[f"fuel_{mid}_biogenic_t"] = bio
        fuels.append(
            {
                "material": mid,
                "kind": kind,
                "consumed_t": float(fc[keep].sum()),
                "co2_t": float(co2[keep].sum()),
                "biogenic_t": float(bio[keep].sum()),
                "counted": kind != "biomass_fuel",
            }
        )
    # Process: clinker-oxide method with dust, and the raw meal's non-fuel carbon.
    cao = param(unit.clinker, "cao", clinker)
    mgo = param(unit.clinker, "mgo", clinker)
    ratio = (raw / clinker.where(clinker > 0)).fillna(0.0)
    if unit.raw_meal:
        nc_cao = param(unit.raw_meal, "noncarb_cao", raw)
        nc_mgo = param(unit.raw_meal, "noncarb_mgo", raw)
        toc = param(unit.raw_meal, "toc", raw)
        params.append(
            Param(
                unit.id,
                unit.raw_meal,
                "raw_meal_per_clinker",
                float(raw[keep].sum() / clinker[keep].sum()) if clinker[keep].sum() > 0 else float("nan"),
                "t/t",
                "calculated",
                ["raw meal tonnes / clinker tonnes, per day (both metered)"],
            )
        )
    else:
        nc_cao = nc_mgo = toc = pd.Series(0.0, index=days)
        missing.append(f"{unit.id}: no raw_meal material: no non-carbonate deduction and no non-fuel carbon counted")
    dust = pd.Series(0.0, index=days)
    for mid in unit.dust:
        dust = dust + param(mid, "mass_t", uniform).fillna(0.0)
    factor = fx.clinker_process_factor(cao, mgo, nc_cao * ratio, nc_mgo * ratio)
    frame["dust_t"] = dust
    frame["process_factor_t_per_t"] = factor
    frame["process_clinker_co2_t"] = fx.process_co2(clinker, factor)
    frame["process_dust_co2_t"] = fx.process_co2(dust, factor)
    frame["process_toc_co2_t"] = fx.raw_meal_toc_co2(raw, toc)
    calcined = (clinker + dust)[keep]
    w = calcined.where(factor[keep].notna(), 0.0)
    params.append(
        Param(
            unit.id,
            unit.clinker,
            "process_factor",
            float((factor[keep].fillna(0) * w).sum() / w.sum()) if w.sum() > 0 else float("nan"),
            "tCO2/t",
            "calculated",
            [ds.method.source("process_clinker").formula + " per day, weighted by clinker + dust"],
        )
    )
    if unit.cement:  # CBAM: the clinker each day's cement contains
        cement = activity(unit.cement, spread)
        frame["cement_t"] = cement
        frame["cement_clinker_t"] = cement * param(unit.cement, "clinker_share", cement)
    frame = frame.fillna({c: 0.0 for c in frame.columns if c.endswith("_t") and "co2" not in c})
    return UnitResult(unit, frame[keep], params, fuels, missing, recon)


# --- the period and its boundaries -------------------------------------------------------


def account(ds: Dataset, start: dt.date, end: dt.date) -> Accounts:
    """Direct emissions per unit and day for [start, end] (local days, inclusive), and the three boundaries."""
    first, last = _months(start, end)
    met = _metered(ds, first, last)
    all_days = local_days(first, last)
    keep = (all_days >= pd.Timestamp(start)) & (all_days <= pd.Timestamp(end))
    units = [account_unit(ds, u, met, all_days, keep) for u in ds.cfg.units]
    warnings = [
        f"reconciliation: {r['material']}: metered {r['metered_t']:.3f} t vs stock {r['stock_t']:.3f} t "
        f"({r['difference_pct']:+.2f} %, threshold {r['threshold_pct']:g} %)"
        for u in units
        for r in u.reconciliation
        if r["flagged"]
    ]
    other, scope2, elec = _energy_boundaries(ds, met, start, end)
    cbam = [row for u in units for row in cbam_rows(u, elec)]
    days = _electricity_days(ds, met, start, end)
    cbam_daily = pd.concat([cbam_days(u, days) for u in units], ignore_index=True) if units else pd.DataFrame()
    return Accounts(start, end, ds.method.ref, units, other, scope2, cbam, warnings, cbam_daily)


def _electricity_days(ds: Dataset, met: _Metered, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per local day and electricity meter: kWh and location-based tCO2 (the metering engine's rows)."""
    cols = ["day", "device", "kwh", "co2_t"]
    if met.energy is None:
        return pd.DataFrame(columns=cols)
    tz = ds.plant.site.timezone
    t0, t1 = _utc(start, tz), _utc(end + dt.timedelta(days=1), tz)

    def daily(df: pd.DataFrame, value: str, scale: float) -> pd.Series:
        df = df[(df["interval_start"] >= t0) & (df["interval_start"] < t1)]
        if df.empty:  # e.g. a month before the meters' first reading
            return pd.Series(dtype=float, index=pd.MultiIndex.from_arrays([[], []], names=["day", "device"]))
        day = pd.to_datetime(df["interval_start"]).dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
        return (df[value].astype(float) * scale).groupby([day.rename("day"), df["device"].astype(str)]).sum()

    en, em = met.energy.energy, met.energy.emissions
    kwh = daily(en[en["carrier"].astype(str) == "electricity"], "amount", 1.0)
    loc = em[(em["scope"].astype(str) == "2") & (em["method"].astype(str) == "location")]
    co2 = daily(loc, "co2_kg", 1.0 / 1000.0)
    out = pd.concat([kwh.rename("kwh"), co2.rename("co2_t")], axis=1).fillna(0.0)
    return out.rename_axis(["day", "device"]).reset_index().reindex(columns=cols)


def _energy_boundaries(
    ds: Dataset, met: _Metered, start: dt.date, end: dt.date
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], pd.DataFrame]:
    """Scope 1 of fuels no unit counts; scope 2 location and market totals; per-device location CO2 and kWh."""
    empty = pd.DataFrame(columns=["device", "kwh", "co2_t", "factors"])
    if met.energy is None:
        return [], {}, empty
    tz = ds.plant.site.timezone
    t0, t1 = _utc(start, tz), _utc(end + dt.timedelta(days=1), tz)
    em = met.energy.emissions
    em = em[(em["interval_start"] >= t0) & (em["interval_start"] < t1)]
    counted = {d for m in ds.cfg.materials.values() for d in m.devices}
    s1 = em[(em["scope"].astype(str) == "1") & (em["role"].astype(str) == "main")]
    s1 = s1[~s1["device"].astype(str).isin(counted)]
    other = [
        {
            "item": f"{dev} fuel combustion (metering engine)",
            "tco2": float(g["co2_kg"].sum()) / 1000.0,
            "source": "factors " + ", ".join(sorted(set(g["factor"].astype(str)))),
        }
        for dev, g in s1.groupby(s1["device"].astype(str))
    ]
    scope2 = {}
    s2 = em[(em["scope"].astype(str) == "2") & (em["role"].astype(str) == "main")]
    for method in ("location", "market"):
        g = s2[s2["method"].astype(str) == method]
        scope2[method] = {"tco2": float(g["co2_kg"].sum()) / 1000.0, "factors": sorted(set(g["factor"].astype(str)))}
    en = met.energy.energy
    en = en[(en["interval_start"] >= t0) & (en["interval_start"] < t1) & (en["carrier"].astype(str) == "electricity")]
    loc = em[(em["scope"].astype(str) == "2") & (em["method"].astype(str) == "location")]
    rows = []
    for dev in {str(d) for d in en["device"].astype(str)}:
        e = en[en["device"].astype(str) == dev]
        c = loc[loc["device"].astype(str) == dev]
        rows.append(
            {
                "device": dev,
                "kwh": float(e["amount"].sum()),
                "co2_t": float(c["co2_kg"].sum()) / 1000.0,
                "factors": sorted(set(c["factor"].astype(str))),
            }
        )
    return other, scope2, pd.DataFrame(rows, columns=["device", "kwh", "co2_t", "factors"])
