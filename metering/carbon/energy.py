"""Energy rows per interval: interval table → one row per device, unmetered remainder and virtual meter (pure).

Energy rows (`ENERGY_COLUMNS`) are what the `energy` measurement holds. tce and CO2 are added by
`metering.carbon.emissions`; green-power contracts are in `metering.carbon.green_power`.

Internal transfers (`Plant.internal_transfers`: steam from the site's own boiler, on-site PV)
keep their energy rows, with tce 0 (no factor) and no emissions rows: their energy and CO2
are counted once, at the fuel or purchase that entered the fence.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import numpy as np
import pandas as pd

from metering.carbon.frames import as_category, concat_frames, const_column, empty_frame, equals
from plantcarbon_core.kinds import kind as kind_of
from plantcarbon_core.plant import Device, Plant, SteamConditions

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


def energy_rows(intervals: pd.DataFrame, plant: Plant) -> pd.DataFrame:
    """Interval table → one energy row per device (main, sub), unmetered remainder and virtual meter."""
    if intervals.empty:
        return empty_frame(ENERGY_COLUMNS)
    devices = {d.id: d for d in plant.devices}
    dev_col, q_col = as_category(intervals["device"]), as_category(intervals["quantity"])
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
    base["unit"] = as_category(base["carrier"]).map(ENERGY_UNITS)
    base["interval_start"] = pd.to_datetime(base["interval_start"], utc=True)
    base = base.reset_index(drop=True)
    extra = [*_unmetered(base, plant), *_virtual(base, plant)]
    out = concat_frames([base, *extra]) if extra else base
    for c in ("site", "area", "device", "carrier", "role", "quantity", "status", "unit"):
        out[c] = out[c].astype("category")
    out["tou"] = const_column("", len(out))
    out["cost"] = np.nan
    out["tce_kg"] = np.nan
    out["tce_factor"] = const_column("", len(out))
    return out[ENERGY_COLUMNS].sort_values(["interval_start", "device"], kind="stable").reset_index(drop=True)


def stored_energy_rows(stored: pd.DataFrame, plant: Plant) -> pd.DataFrame:
    """`energy` points as stored (tags, interval_start, amount, tce_kg) → energy rows to price again.

    The stored point has no `quantity`; it is taken as what `energy_rows` meters for the row:
    a PV inverter's export (generation), for every other row the carrier's consumption
    quantity. `status` and `completeness` are not needed for pricing and are left empty.
    """
    if stored.empty:
        return empty_frame(ENERGY_COLUMNS)
    out = stored.copy()
    n = len(out)
    for c in ("site", "area", "device", "carrier", "role", "tou"):
        out[c] = out[c].astype("category") if c in out.columns else const_column("", n)
    devices = {d.id: d for d in plant.devices}
    pairs = out[["device", "carrier"]].drop_duplicates().itertuples(index=False, name=None)
    meter = {(d, c): _stored_quantity(devices.get(str(d).split(":", 1)[0]), str(c)) for d, c in pairs}
    out["quantity"] = pd.Categorical([meter[k] for k in zip(out["device"], out["carrier"], strict=True)])
    out["unit"] = out["carrier"].map(ENERGY_UNITS).astype("category")
    out["status"] = const_column("", n)
    out["completeness"] = np.nan
    out["tce_kg"] = out["tce_kg"] if "tce_kg" in out.columns else np.nan
    out["tce_factor"] = const_column("", n)
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
    c = as_category(status)
    lut = np.array([_RANK.index(str(x)) if str(x) in _RANK else 2 for x in c.cat.categories] + [2], dtype=np.int64)
    return np.asarray(lut[c.cat.codes.to_numpy()])


_STATUS = np.array(["measured", "partial", "estimated"], dtype=object)


def _unmetered(base: pd.DataFrame, plant: Plant) -> list[pd.DataFrame]:
    """parent − Σ direct sub-meters of the same carrier, per interval, as device `<parent>:unmetered`.

    Generation sub-meters (PV export counters) are not consumption and stay out of the sum.
    """
    generators = {str(d) for d in base.loc[equals(base["quantity"], "e_exp_kwh"), "device"].unique()}
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
