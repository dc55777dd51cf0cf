"""Energy, tce and CO2 per interval: interval table → energy rows (with hierarchy) → emissions rows (pure).

Energy rows (`ENERGY_COLUMNS`) are what the `energy` measurement holds; emissions rows
(`EMISSION_COLUMNS`) what `emissions` holds. Every emissions row names the factor
`id@version` it used. A factor that cannot be found for a row is not guessed: the row is
left out and the reason is returned in `Result.problems` (one line per kind), so a
service logs it and goes on.

Internal transfers (`Plant.internal_transfers`: steam from the site's own boiler, on-site PV)
keep their energy rows, with tce 0 (no factor) and no emissions rows: their energy and CO2
are counted once, at the fuel or purchase that entered the fence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from core import datafile
from core.kinds import kind as kind_of
from core.plant import Device, Plant, SteamConditions
from metering.factors import CO2_PER_C, Factor, FactorNotFound, Registry, gwp, parse_unit
from metering.ncv import Ncv, ncv_for

# The quantity that stands for a carrier's energy, in order of preference.
ENERGY_QUANTITIES: dict[str, tuple[str, ...]] = {
    "electricity": ("e_imp_kwh", "e_exp_kwh"),
    "natural_gas": ("vol_nm3",),
    "coal": ("mass_t",),
    "diesel": ("mass_t",),
    "steam": ("heat_gj", "mass_t"),
    "heat": ("heat_gj",),
    "water": ("vol_m3", "vol_nm3"),
    "production": ("output_t",),
}
ENERGY_UNITS = {
    "electricity": "kWh",
    "natural_gas": "Nm3",
    "coal": "t",
    "diesel": "t",
    "steam": "GJ",
    "heat": "GJ",
    "water": "m3",
    "production": "t",
}
DEFAULT_FUEL = {"natural_gas": "natural_gas", "diesel": "diesel", "coal": "bituminous_coal"}
FUEL_CARRIERS = frozenset(DEFAULT_FUEL)
HEAT_CARRIERS = frozenset({"steam", "heat"})

ENERGY_COLUMNS = [
    "site",
    "area",
    "device",
    "carrier",
    "role",
    "tou",
    "interval_start",
    "amount",
    "unit",
    "quantity",
    "status",
    "completeness",
    "tce_kg",
    "tce_factor",
    "cost",
]
EMISSION_COLUMNS = [
    "site",
    "area",
    "device",
    "carrier",
    "role",
    "scope",
    "method",
    "interval_start",
    "activity",
    "activity_unit",
    "co2_kg",
    "co2e_kg",
    "factor",
    "gwp",
    "ncv",  # the net calorific value a fuel row used besides its factor ("" when none or the factor's own)
]


# --- steam ------------------------------------------------------------------------------


@cache
def steam_gj_per_t(cond: SteamConditions) -> float:
    """Heat delivered per tonne of steam: h(steam at p, T) − h(liquid water at return temperature), GJ/t.

    IAPWS-IF97 via `iapws`; pressure is absolute MPa; `temperature_c=None` is saturated vapour.
    kJ/kg equals MJ/t, so the difference / 1000 is GJ/t.
    """
    from iapws import IAPWS97

    if cond.temperature_c is None:
        steam = IAPWS97(P=cond.pressure_mpa, x=1.0)
    else:
        steam = IAPWS97(P=cond.pressure_mpa, T=cond.temperature_c + 273.15)
    water = IAPWS97(P=cond.pressure_mpa, T=cond.return_temp_c + 273.15)
    return float(steam.h - water.h) / 1000.0


# --- energy rows ------------------------------------------------------------------------


def energy_quantity(dev: Device, have: set[str]) -> str | None:
    """Which of the device's interval quantities stands for its energy (None: none of them)."""
    prefs = ENERGY_QUANTITIES.get(dev.carrier, ())
    if kind_of(dev.kind).generates:
        prefs = ("e_exp_kwh", "e_imp_kwh")  # a generator's energy is what it exports
    return next((q for q in prefs if q in have), None)


def _as_cat(col: pd.Series) -> pd.Series:
    return col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("category")


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Row-wise concat that keeps label columns categorical (plain concat falls back to per-row strings)."""
    cols: dict[str, pd.Series] = {}
    for c in frames[0].columns:
        parts = [f[c] for f in frames]
        if any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            cats: dict[str, None] = {}
            for p in parts:
                values = p.cat.categories if isinstance(p.dtype, pd.CategoricalDtype) else pd.unique(p)
                cats.update(dict.fromkeys(str(v) for v in values))
            dtype = pd.CategoricalDtype(list(cats))
            parts = [p.astype(dtype) for p in parts]
        cols[c] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(cols)


def _const(value: str, n: int) -> pd.Categorical:
    """A column holding one label, as a categorical (no per-row string objects)."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([value]))  # type: ignore[return-value]


def _eq(col: pd.Series, value: str) -> np.ndarray:
    """Boolean array `col == value`, cheap for categorical columns (compares codes)."""
    c = _as_cat(col)
    cats = list(map(str, c.cat.categories))
    if value not in cats:
        return np.zeros(len(c), dtype=bool)
    return np.asarray(c.cat.codes.to_numpy() == cats.index(value))


def _labels(col: pd.Series) -> np.ndarray:
    """A label column as a numpy array of str objects, built from the categories (not per row)."""
    c = _as_cat(col)
    cats = np.array([str(x) for x in c.cat.categories] + [""], dtype=object)
    return np.asarray(cats[c.cat.codes.to_numpy()])


def energy_rows(intervals: pd.DataFrame, plant: Plant) -> pd.DataFrame:
    """Interval table → one energy row per device (main, sub), unmetered remainder and virtual meter."""
    if intervals.empty:
        return _empty(ENERGY_COLUMNS)
    devices = {d.id: d for d in plant.devices}
    dev_col, q_col = _as_cat(intervals["device"]), _as_cat(intervals["quantity"])
    dcodes, qcodes = dev_col.cat.codes.to_numpy(), q_col.cat.codes.to_numpy()
    qcats = list(map(str, q_col.cat.categories))
    present = pd.DataFrame({"d": dcodes, "q": qcodes}).drop_duplicates()
    have: dict[int, set[str]] = {}
    for d, q in present.itertuples(index=False, name=None):
        have.setdefault(int(d), set()).add(qcats[int(q)])
    # Per device category: the code of the quantity that stands for its energy, and a multiplier.
    n_dev = len(dev_col.cat.categories)
    chosen = np.full(n_dev + 1, -2, dtype=np.int64)
    mult = np.ones(n_dev + 1)
    for i, name in enumerate(dev_col.cat.categories):
        dev = devices.get(str(name))
        if dev is None:
            continue
        qname = energy_quantity(dev, have.get(i, set()))
        if qname is None:
            continue
        if dev.carrier == "steam" and qname == "mass_t":
            if dev.steam is None:
                continue  # cannot turn mass into heat without conditions
            mult[i] = steam_gj_per_t(dev.steam)
        chosen[i] = qcats.index(qname)
    mask = chosen[dcodes] == qcodes
    base = intervals.loc[
        mask,
        ["site", "area", "device", "carrier", "role", "interval_start", "amount", "quantity", "status", "completeness"],
    ].copy()
    base["amount"] = base["amount"].to_numpy() * mult[dcodes[mask]]
    base["unit"] = _as_cat(base["carrier"]).map(ENERGY_UNITS)
    base["interval_start"] = pd.to_datetime(base["interval_start"], utc=True)
    base = base.reset_index(drop=True)
    extra = [*_unmetered(base, plant), *_virtual(base, plant)]
    out = _concat([base, *extra]) if extra else base
    for c in ("site", "area", "device", "carrier", "role", "quantity", "status", "unit"):
        out[c] = out[c].astype("category")
    out["tou"] = _const("", len(out))
    out["cost"] = np.nan
    out["tce_kg"] = np.nan
    out["tce_factor"] = _const("", len(out))
    return out[ENERGY_COLUMNS].sort_values(["interval_start", "device"], kind="stable").reset_index(drop=True)


def stored_energy_rows(stored: pd.DataFrame, plant: Plant) -> pd.DataFrame:
    """`energy` points as stored (tags, interval_start, amount, tce_kg) → energy rows to price again.

    The stored point has no `quantity`; it is taken as what `energy_rows` meters for the row:
    a PV inverter's export (generation), for every other row the carrier's consumption
    quantity. `status` and `completeness` are not needed for pricing and are left empty.
    """
    if stored.empty:
        return _empty(ENERGY_COLUMNS)
    out = stored.copy()
    n = len(out)
    for c in ("site", "area", "device", "carrier", "role", "tou"):
        out[c] = out[c].astype("category") if c in out.columns else _const("", n)
    devices = {d.id: d for d in plant.devices}
    pairs = out[["device", "carrier"]].drop_duplicates().itertuples(index=False, name=None)
    meter = {(d, c): _stored_quantity(devices.get(str(d).split(":", 1)[0]), str(c)) for d, c in pairs}
    out["quantity"] = pd.Categorical([meter[k] for k in zip(out["device"], out["carrier"], strict=True)])
    out["unit"] = out["carrier"].map(ENERGY_UNITS).astype("category")
    out["status"] = _const("", n)
    out["completeness"] = np.nan
    out["tce_kg"] = out["tce_kg"] if "tce_kg" in out.columns else np.nan
    out["tce_factor"] = _const("", n)
    out["cost"] = np.nan
    out = out[out["amount"].notna()]
    return out[ENERGY_COLUMNS].sort_values(["interval_start", "device"], kind="stable").reset_index(drop=True)


def _stored_quantity(dev: Device | None, carrier: str) -> str:
    if dev is not None and kind_of(dev.kind).generates:
        return "e_exp_kwh"
    return ENERGY_QUANTITIES.get(carrier, ("",))[0]


_RANK = ("measured", "partial", "estimated")


def _rank(status: pd.Series) -> np.ndarray:
    """measured 0, partial 1, estimated (or unknown) 2."""
    c = _as_cat(status)
    lut = np.array([_RANK.index(str(x)) if str(x) in _RANK else 2 for x in c.cat.categories] + [2], dtype=np.int64)
    return np.asarray(lut[c.cat.codes.to_numpy()])


_STATUS = np.array(["measured", "partial", "estimated"], dtype=object)


def _unmetered(base: pd.DataFrame, plant: Plant) -> list[pd.DataFrame]:
    """parent − Σ direct sub-meters of the same carrier, per interval, as device `<parent>:unmetered`.

    Generation sub-meters (PV export counters) are not consumption and stay out of the sum.
    """
    generators = {str(d) for d in base.loc[_eq(base["quantity"], "e_exp_kwh"), "device"].unique()}
    parent_of = {
        d.id: d.parent
        for d in plant.devices
        if d.role == "sub"
        and d.parent is not None
        and d.id not in generators
        and plant.device(d.parent).carrier == d.carrier
    }
    if not parent_of:
        return []
    dev = base["device"]
    subs = base[dev.isin(list(parent_of))]
    parents = base[dev.isin(set(parent_of.values()))]
    if subs.empty or parents.empty:
        return []
    sums = (
        subs.assign(parent=subs["device"].map(parent_of), rank=_rank(subs["status"]))
        .groupby(["parent", "interval_start"], observed=True)
        .agg(amount=("amount", "sum"), rank=("rank", "max"), completeness=("completeness", "min"))
    )
    mi = sums.index
    assert isinstance(mi, pd.MultiIndex)
    sums.index = mi.set_levels([str(x) for x in mi.levels[0]], level=0)
    par = parents.assign(parent=parents["device"].astype(str), rank=_rank(parents["status"])).set_index(
        ["parent", "interval_start"]
    )
    par = par[par.index.get_level_values(0).isin(sums.index.get_level_values(0).unique())]
    sub_at = sums.reindex(par.index)
    amount = par["amount"].to_numpy() - sub_at["amount"].fillna(0.0).to_numpy()
    rank_all = np.maximum(par["rank"].to_numpy(), sub_at["rank"].fillna(2).to_numpy().astype(int))
    comp = np.minimum(par["completeness"].to_numpy(), sub_at["completeness"].fillna(0.0).to_numpy())
    ids = par.index.get_level_values(0).to_numpy()
    return [
        pd.DataFrame(
            {
                "site": par["site"].astype(str).to_numpy(),
                "area": par["area"].astype(str).to_numpy(),
                "device": ids + ":unmetered",
                "carrier": par["carrier"].astype(str).to_numpy(),
                "role": "unmetered",
                "interval_start": par.index.get_level_values(1),
                "amount": amount,
                "unit": par["unit"].astype(str).to_numpy(),
                "quantity": "",
                "status": _STATUS[rank_all],
                "completeness": comp,
            }
        )
    ]


def _pivot(base: pd.DataFrame, ids: Iterable[str]) -> pd.DataFrame:
    sel = base[base["device"].isin(list(ids))]
    return sel.pivot_table(index="interval_start", columns="device", values="amount", aggfunc="sum")


def _worst_status(base: pd.DataFrame, ids: list[str]) -> pd.Series:
    sel = base[base["device"].isin(ids)]
    rank = pd.Series(_rank(sel["status"]), index=sel.index)
    worst = rank.groupby(sel["interval_start"]).max()
    return worst.map({0: "measured", 1: "partial", 2: "estimated"})


def _virtual(base: pd.DataFrame, plant: Plant) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []
    for vm in plant.virtual_meters:
        terms = vm.terms()
        ids = [d for _, d in terms]
        table = _pivot(base, ids)
        if table.empty or any(d not in table.columns for d in ids):
            continue
        total = sum(coef * table[d] for coef, d in terms)
        assert isinstance(total, pd.Series)
        total = total.dropna()
        status = _worst_status(base, ids).reindex(total.index).fillna("estimated")
        comp = base[base["device"].isin(ids)].groupby("interval_start")["completeness"].min().reindex(total.index)
        out.append(
            pd.DataFrame(
                {
                    "site": plant.site.id,
                    "area": vm.area,
                    "device": vm.id,
                    "carrier": vm.carrier,
                    "role": "virtual",
                    "interval_start": total.index,
                    "amount": total.to_numpy(),
                    "unit": ENERGY_UNITS[vm.carrier],
                    "quantity": "",
                    "status": status.to_numpy(),
                    "completeness": comp.fillna(0.0).to_numpy(),
                }
            )
        )
    return out


# --- green power ------------------------------------------------------------------------


class _GModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GreenContract(_GModel):
    """A green-power purchase (绿电交易) or certificates (绿证) covering consumption in a period."""

    id: str
    kind: str = Field(pattern=r"^(contract|certificate)$")
    mwh: float = Field(gt=0)
    start: dt.datetime  # inclusive; a date without zone is the site's local midnight
    end: dt.datetime  # exclusive
    note: str | None = None


class GreenPowerFile(_GModel):
    contracts: list[GreenContract]


def load_green_power(path: str | Path) -> list[GreenContract]:
    """Contracts from YAML; raises DataFileError naming the file, the item and the field."""
    path = Path(path)
    return list(datafile.load(path, GreenPowerFile, expect="contracts", source=str(path)).contracts)


def green_kwh_per_interval(
    contracts: Iterable[GreenContract], starts: pd.DatetimeIndex, timezone: str, interval_s: int = 900
) -> pd.Series:
    """kWh of green power available in each interval: each contract spread evenly over its period.

    Spreading by time (not by consumption) makes an interval's allocation independent of
    which window is being computed, so recomputing any period gives the same numbers.
    """
    avail = pd.Series(0.0, index=starts)
    for c in contracts:
        s = pd.Timestamp(c.start)
        e = pd.Timestamp(c.end)
        s = s.tz_localize(timezone) if s.tzinfo is None else s
        e = e.tz_localize(timezone) if e.tzinfo is None else e
        n = (e - s).total_seconds() / interval_s
        if n <= 0:
            continue
        inside = (starts >= s) & (starts < e)
        avail[inside] += c.mwh * 1000.0 / n
    return avail


# --- tce and emissions ------------------------------------------------------------------


@dataclass
class Result:
    energy: pd.DataFrame
    emissions: pd.DataFrame
    problems: list[str] = field(default_factory=list)


class _Lookup:
    """Factor look-ups per distinct local day, as per-row arrays; misses are remembered as problems."""

    def __init__(self, registry: Registry, day_codes: np.ndarray, days: list[dt.date]):
        self.registry = registry
        self.day_codes = day_codes
        self.days = days
        self.cache: dict[tuple[object, ...], Factor | None] = {}
        self.problems: dict[str, None] = {}

    def get(self, kind: str, day: dt.date, **kw: str | None) -> Factor | None:
        key = (kind, day, tuple(sorted(kw.items())))
        if key not in self.cache:
            try:
                self.cache[key] = self.registry.lookup(kind, when=day, **kw)
            except FactorNotFound as exc:
                self.cache[key] = None
                self.problems[str(exc)] = None
        return self.cache[key]

    def column(self, kind: str, activity: str, **kw: str | None) -> tuple[np.ndarray, np.ndarray, list[Factor | None]]:
        """Per row: kg per activity unit (NaN where no usable factor), the factor ref, and the per-day factors.

        A factor in a unit that cannot apply to the activity is a problem, not an exception.
        """
        per_day = [self.get(kind, d, **kw) for d in self.days]
        kg = np.full(len(per_day) + 1, np.nan)
        ref = np.full(len(per_day) + 1, "", dtype=object)
        for i, f in enumerate(per_day):
            if f is None:
                continue
            try:
                kg[i], ref[i] = f.kg_per(activity), f.ref
            except ValueError as exc:
                self.problems[str(exc)] = None
        return kg[self.day_codes], ref[self.day_codes], per_day

    def fuel(
        self, fuel: str, activity: str, region: str, ncv: Ncv | None, own: bool, devices: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per row: kg CO2 and GJ per metered unit, the factor ref and the NCV cited (see `fuel_terms`)."""
        n = len(self.days) + 1
        kg, gj = np.full(n, np.nan), np.full(n, np.nan)
        ref, cited = np.full(n, "", dtype=object), np.full(n, "", dtype=object)
        for i, day in enumerate(self.days):
            f = self.get("fuel-combustion", day, region=region, fuel=fuel)
            if f is None:
                continue
            try:
                kg[i], gj[i], cited[i] = fuel_terms(f, activity, ncv, own)
                ref[i] = f.ref
            except ValueError as exc:
                self.problems[f"{devices}: {exc}; rows left out"] = None
        c = self.day_codes
        return kg[c], gj[c], ref[c], cited[c]


def fuel_terms(f: Factor, activity: str, ncv: Ncv | None, own: bool) -> tuple[float, float, str]:
    """kg CO2 and GJ per metered unit of a fuel, and the NCV to cite ("" when the factor's own).

    A factor per metered unit is used as it is (its parameters give the GJ for CH4/N2O) — unless
    the plant gives its own NCV (`own`), which then replaces the parameters' NCV. A factor per
    energy (IPCC: kg/TJ) needs an NCV per metered unit; without one it raises ValueError.
    """
    _, base, _ = parse_unit(f.unit)
    per = f.unit.split("/", 1)[1]
    ncv_gj = ncv.gj_per(activity) if ncv is not None else None
    if ncv is not None and ncv_gj is None and (own or base != activity):
        raise ValueError(f"the NCV of {ncv.fuel} ({ncv.text}) is not per {activity}, the meter's unit")
    if base == activity:
        p = f.parameters
        if p is not None and not (own and ncv_gj is not None):
            return f.kg_per(activity), p.gj_per(activity), ""
        if p is not None and ncv_gj is not None:
            assert ncv is not None
            return ncv_gj * p.carbon_content_tc_per_gj * p.oxidation * CO2_PER_C * 1000.0, ncv_gj, ncv.text
        if ncv_gj is not None:
            assert ncv is not None
            return f.kg_per(activity), ncv_gj, ncv.text
        return f.kg_per(activity), np.nan, ""
    if base == "GJ":
        if ncv_gj is None:
            raise ValueError(
                f"{f.ref} is per {per} and no net calorific value of {f.fuel} per {activity} is known "
                f"(set metering.ncv.{f.fuel} in the plant file)"
            )
        assert ncv is not None
        return f.kg_per("GJ") * ncv_gj, ncv_gj, ncv.text
    raise ValueError(f"{f.ref} is per {per}, cannot apply it to {activity}")


def compute(
    intervals: pd.DataFrame,
    plant: Plant,
    registry: Registry,
    green: Iterable[GreenContract] = (),
) -> Result:
    """Interval table → energy rows with tce, and scope 1/2 emissions rows (location and market)."""
    return price(energy_rows(intervals, plant), plant, registry, green)


def price(
    energy: pd.DataFrame,
    plant: Plant,
    registry: Registry,
    green: Iterable[GreenContract] = (),
) -> Result:
    """Energy rows → the same rows with tce, and their emissions: the factor-dependent half of `compute`.

    A recompute after a factor update starts here, from the energy rows stored earlier.
    """
    if energy.empty:
        return Result(energy, _empty(EMISSION_COLUMNS), [])
    # Factors follow the interval's local calendar day (a Shanghai year starts at 16:00 UTC).
    local_day = energy["interval_start"].dt.tz_convert(plant.site.timezone).dt.tz_localize(None).dt.normalize()
    day_codes, uniq = pd.factorize(local_day)
    look = _Lookup(registry, np.asarray(day_codes), [pd.Timestamp(d).date() for d in uniq])
    tce_kind = "tce-generation" if plant.metering.electricity_tce == "generation" else "tce"
    amount = energy["amount"].to_numpy(dtype=np.float64)
    carrier = _labels(energy["carrier"])
    bought = ~internal_rows(energy, plant)
    tce = np.full(len(energy), np.nan)
    tce_ref = np.full(len(energy), "", dtype=object)
    for c in sorted(set(carrier)):
        if c not in ("electricity", *FUEL_CARRIERS, *HEAT_CARRIERS):
            continue
        m = (carrier == c) & bought
        if not m.any():
            continue
        kg, ref, _ = look.column(tce_kind if c == "electricity" else "tce", ENERGY_UNITS[c], carrier=c)
        tce[m] = amount[m] * kg[m]
        tce_ref[m] = ref[m]
    tce[~bought & np.isin(carrier, ["electricity", *FUEL_CARRIERS, *HEAT_CARRIERS])] = 0.0  # counted at the fence
    energy["tce_kg"] = tce
    energy["tce_factor"] = pd.Categorical(tce_ref)
    emissions = _emissions(energy, plant, look, list(green), bought)
    return Result(energy, emissions, list(look.problems))


def internal_devices(plant: Plant) -> set[str]:
    """Device ids whose rows are internal transfers: `Plant.internal_transfers`, their
    `:unmetered` remainders, and virtual meters made only of them."""
    internal = set(plant.internal_transfers())
    internal |= {vm.id for vm in plant.virtual_meters if all(d in internal for _, d in vm.terms())}
    return internal | {f"{d}:unmetered" for d in internal}


def internal_rows(energy: pd.DataFrame, plant: Plant) -> np.ndarray:
    """Per energy row: does it meter an internal transfer (made and used inside the fence)?

    A device in `Plant.internal_transfers`, its unmetered remainder (`<id>:unmetered`), a PV
    export counter, and a virtual meter made only of such devices.
    """
    internal = internal_devices(plant)
    dev = _as_cat(energy["device"])
    lut = np.array([str(x) in internal for x in dev.cat.categories] + [False], dtype=bool)
    return np.asarray(lut[dev.cat.codes.to_numpy()]) | _eq(energy["quantity"], "e_exp_kwh")


def _emissions(
    energy: pd.DataFrame, plant: Plant, look: _Lookup, green: list[GreenContract], bought: np.ndarray
) -> pd.DataFrame:
    region = plant.site.grid_region
    gwp_set = plant.metering.gwp_set
    rows: list[pd.DataFrame] = []
    amount = energy["amount"].to_numpy(dtype=np.float64)

    def add(
        mask: np.ndarray,
        scope: str,
        method: str,
        co2: np.ndarray,
        co2e: np.ndarray,
        ref: np.ndarray,
        ncv: np.ndarray | None = None,
    ) -> None:
        """Rows where `mask` holds, a factor was found and the energy was not made on site."""
        mask = mask & (ref != "") & bought
        if not mask.any():
            return
        sel = energy[mask]
        rows.append(
            pd.DataFrame(
                {
                    "site": sel["site"].array,
                    "area": sel["area"].array,
                    "device": sel["device"].array,
                    "carrier": sel["carrier"].array,
                    "role": sel["role"].array,
                    "scope": _const(scope, len(sel)),
                    "method": _const(method, len(sel)),
                    "interval_start": sel["interval_start"].array,
                    "activity": sel["amount"].to_numpy(),
                    "activity_unit": sel["unit"].array,
                    "co2_kg": co2[mask],
                    "co2e_kg": co2e[mask],
                    "factor": pd.Categorical(ref[mask]),
                    "gwp": _const(gwp_set, len(sel)),
                    "ncv": pd.Categorical(ncv[mask]) if ncv is not None else _const("", len(sel)),
                }
            )
        )

    carrier = _labels(energy["carrier"])
    roles = _labels(energy["role"])
    # Consumption of electricity: import counters and every derived row; generation (e_exp only) is not.
    consumed = ~_eq(energy["quantity"], "e_exp_kwh")
    elec = (carrier == "electricity") & consumed & bought
    if elec.any():
        kg, ref, _ = look.column("grid-average", "kWh", region=region, carrier="electricity")
        add(elec, "2", "location", amount * kg, amount * kg, ref)
        # The residual (excluding market-traded non-fossil power) is published nationally only;
        # where there is none the location factor stands in.
        residual_region = "cn-national" if region.startswith("cn-") else region
        mkg, mref, _ = look.column("grid-residual", "kWh", region=residual_region, carrier="electricity")
        missing = mref == ""
        mkg, mref = np.where(missing, kg, mkg), np.where(missing, ref, mref)
        mains = elec & (roles == "main")
        if mains.any():
            non_green = amount * (1.0 - _green_share(energy, plant, green))
            add(mains, "2", "market", non_green * mkg, non_green * mkg, mref)
    heat = np.isin(carrier, list(HEAT_CARRIERS)) & bought
    if heat.any():
        kg, ref, _ = look.column("purchased-heat", "GJ", carrier="heat")
        add(heat, "2", "location", amount * kg, amount * kg, ref)
        add(heat & (roles == "main"), "2", "market", amount * kg, amount * kg, ref)
    fuel_of = {d.id: d.fuel or DEFAULT_FUEL.get(d.carrier, "") for d in plant.devices}
    fuel_rows = np.isin(carrier, list(FUEL_CARRIERS)) & bought
    if fuel_rows.any():
        fuels = _labels(energy["device"].map(lambda d: fuel_of.get(str(d).split(":", 1)[0], "")))
        for fuel in sorted(set(fuels[fuel_rows]) - {""}):
            mask = (fuels == fuel) & fuel_rows
            act = ENERGY_UNITS[str(carrier[mask][0])]
            fregion = "cn-national" if region.startswith("cn-") else region
            own = fuel in plant.metering.ncv
            devices = ", ".join(sorted(set(_labels(energy["device"])[mask])))
            kg, gj_per, ref, cited = look.fuel(fuel, act, fregion, ncv_for(plant, fuel), own, devices)
            co2 = amount * kg
            co2e = co2.copy()
            for kind, gas in (("fuel-ch4", "CH4"), ("fuel-n2o", "N2O")):
                gkg, _, _ = look.column(kind, "GJ", fuel=fuel)
                extra = amount * gj_per * gkg * gwp(gas, gwp_set)
                co2e = co2e + np.where(np.isfinite(extra), extra, 0.0)
            add(mask, "1", "", co2, co2e, ref, cited)
    if not rows:
        return _empty(EMISSION_COLUMNS)
    out = _concat(rows)
    out["interval_start"] = pd.to_datetime(out["interval_start"], utc=True)
    for c in ("site", "area", "device", "carrier", "role", "scope", "method", "activity_unit", "factor", "gwp", "ncv"):
        out[c] = out[c].astype("category")
    out = out[EMISSION_COLUMNS].sort_values(["interval_start", "device", "scope", "method"], kind="stable")
    return out.reset_index(drop=True)


def _green_share(energy: pd.DataFrame, plant: Plant, green: list[GreenContract]) -> np.ndarray:
    """Per energy row, the share of its kWh covered by green power (main electricity meters only)."""
    share = np.zeros(len(energy))
    if not green:
        return share
    mains = _eq(energy["role"], "main") & _eq(energy["carrier"], "electricity") & ~_eq(energy["quantity"], "e_exp_kwh")
    if not mains.any():
        return share
    site_kwh = energy[mains].groupby("interval_start")["amount"].sum()
    avail = green_kwh_per_interval(green, pd.DatetimeIndex(site_kwh.index), plant.site.timezone)
    ratio = (avail / site_kwh.where(site_kwh > 0)).clip(upper=1.0).fillna(0.0)
    share[mains] = ratio.reindex(energy.loc[mains, "interval_start"]).to_numpy()
    return share


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
