"""Energy, tce and CO2 per interval: interval table → energy rows (with hierarchy) → emissions rows (pure).

Energy rows (`ENERGY_COLUMNS`) are what the `energy` measurement holds; emissions rows
(`EMISSION_COLUMNS`) what `emissions` holds. Every emissions row names the factor
`id@version` it used. A factor that cannot be found for a row is not guessed: the row is
left out and the reason is returned in `Result.problems` (one line per kind), so a
service logs it and goes on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.plant import Device, Plant, SteamConditions
from metering.factors import Factor, FactorNotFound, Registry, gwp

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


def energy_rows(intervals: pd.DataFrame, plant: Plant) -> pd.DataFrame:
    """Interval table → one energy row per device (main, sub), unmetered remainder and virtual meter."""
    devices = {d.id: d for d in plant.devices}
    parts: list[pd.DataFrame] = []
    for dev_id, g in intervals.groupby("device", sort=True):
        dev = devices.get(str(dev_id))
        if dev is None:
            continue
        prefs = ENERGY_QUANTITIES.get(dev.carrier, ())
        have = set(g["quantity"])
        qname = next((q for q in prefs if q in have), None)
        if qname is None:
            continue
        rows = g[g["quantity"] == qname]
        amount = rows["amount"].to_numpy(dtype=np.float64)
        if dev.carrier == "steam" and qname == "mass_t":
            if dev.steam is None:
                continue  # cannot turn mass into heat without conditions; the plant check should say so
            amount = amount * steam_gj_per_t(dev.steam)
        parts.append(
            pd.DataFrame(
                {
                    "site": plant.site.id,
                    "area": dev.area,
                    "device": dev.id,
                    "carrier": dev.carrier,
                    "role": dev.role,
                    "interval_start": rows["interval_start"].to_numpy(),
                    "amount": amount,
                    "unit": ENERGY_UNITS[dev.carrier],
                    "quantity": qname,
                    "status": rows["status"].to_numpy(),
                    "completeness": rows["completeness"].to_numpy(dtype=np.float64),
                }
            )
        )
    if not parts:
        return _empty(ENERGY_COLUMNS)
    base = pd.concat(parts, ignore_index=True)
    base["interval_start"] = pd.to_datetime(base["interval_start"], utc=True)
    extra = [*_unmetered(base, plant), *_virtual(base, plant)]
    out = pd.concat([base, *extra], ignore_index=True) if extra else base
    out["tou"] = ""
    out["cost"] = np.nan
    out["tce_kg"] = np.nan
    out["tce_factor"] = ""
    return out[[c for c in ENERGY_COLUMNS]].sort_values(["interval_start", "device"]).reset_index(drop=True)


def _pivot(base: pd.DataFrame, ids: Iterable[str]) -> pd.DataFrame:
    sel = base[base["device"].isin(list(ids))]
    return sel.pivot_table(index="interval_start", columns="device", values="amount", aggfunc="sum")


def _worst_status(base: pd.DataFrame, ids: list[str]) -> pd.Series:
    sel = base[base["device"].isin(ids)]
    rank = sel["status"].map({"measured": 0, "partial": 1, "estimated": 2}).fillna(2)
    worst = rank.groupby(sel["interval_start"]).max()
    return worst.map({0: "measured", 1: "partial", 2: "estimated"})


def _unmetered(base: pd.DataFrame, plant: Plant) -> list[pd.DataFrame]:
    """parent − Σ direct sub-meters of the same carrier, per interval, as device `<parent>:unmetered`."""
    out: list[pd.DataFrame] = []
    present = set(base["device"])
    for parent in plant.devices:
        subs = [c.id for c in plant.children(parent.id) if c.role == "sub" and c.carrier == parent.carrier]
        # Generation sub-meters (PV export counters) are not consumption: not part of the breakdown.
        generators = set(base.loc[base["quantity"] == "e_exp_kwh", "device"])
        subs = [s for s in subs if s in present and s not in generators]
        if not subs or parent.id not in present:
            continue
        table = _pivot(base, [parent.id, *subs])
        if parent.id not in table.columns:
            continue
        rest = table[parent.id] - table.drop(columns=[parent.id]).sum(axis=1, min_count=1).fillna(0.0)
        rest = rest.dropna()
        ids = [parent.id, *subs]
        status = _worst_status(base, ids).reindex(rest.index).fillna("estimated")
        comp = base[base["device"].isin(ids)].groupby("interval_start")["completeness"].min().reindex(rest.index)
        out.append(
            pd.DataFrame(
                {
                    "site": plant.site.id,
                    "area": parent.area,
                    "device": f"{parent.id}:unmetered",
                    "carrier": parent.carrier,
                    "role": "unmetered",
                    "interval_start": rest.index,
                    "amount": rest.to_numpy(),
                    "unit": ENERGY_UNITS[parent.carrier],
                    "quantity": "",
                    "status": status.to_numpy(),
                    "completeness": comp.fillna(0.0).to_numpy(),
                }
            )
        )
    return out


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
    """Contracts from YAML; raises ValueError naming the file, the item and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read green-power file: {exc}") from None
    try:
        return list(GreenPowerFile.model_validate(data).contracts)
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ValueError("\n".join(lines)) from None


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


def _local_day(ts: pd.Timestamp, tz: str) -> dt.date:
    return ts.tz_convert(tz).date()


def _activity_base(carrier: str) -> tuple[str, float]:
    """The energy row's unit as a factor activity base and the multiplier to reach it."""
    unit = ENERGY_UNITS[carrier]
    return unit, 1.0


class _Lookup:
    """Memoised factor look-ups keyed by (kind, year, …); misses are remembered as problems."""

    def __init__(self, registry: Registry):
        self.registry = registry
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


def compute(
    intervals: pd.DataFrame,
    plant: Plant,
    registry: Registry,
    green: Iterable[GreenContract] = (),
) -> Result:
    """Interval table → energy rows with tce, and scope 1/2 emissions rows (location and market)."""
    energy = energy_rows(intervals, plant)
    look = _Lookup(registry)
    tz = plant.site.timezone
    if energy.empty:
        return Result(energy, _empty(EMISSION_COLUMNS), [])
    days = [_local_day(ts, tz) for ts in energy["interval_start"]]
    year_day = {d.year: d for d in days}
    # tce per carrier and year.
    tce_kind = "tce-generation" if plant.metering.electricity_tce == "generation" else "tce"
    tce = np.full(len(energy), np.nan)
    tce_ref = np.full(len(energy), "", dtype=object)
    carriers = energy["carrier"].to_numpy()
    years = np.array([d.year for d in days])
    for (carrier, year), idx in pd.Series(range(len(energy))).groupby([carriers, years]):
        if carrier not in ("electricity", *FUEL_CARRIERS, *HEAT_CARRIERS):
            continue
        kind = tce_kind if carrier == "electricity" else "tce"
        f = look.get(kind, year_day[int(str(year))], carrier=str(carrier))
        if f is None:
            continue
        k = f.kg_per(ENERGY_UNITS[str(carrier)])
        tce[idx.to_numpy()] = energy["amount"].to_numpy()[idx.to_numpy()] * k
        tce_ref[idx.to_numpy()] = f.ref
    energy["tce_kg"] = tce
    energy["tce_factor"] = tce_ref
    emissions = _emissions(energy, plant, look, list(green), years, year_day)
    return Result(energy, emissions, list(look.problems))


def _emissions(
    energy: pd.DataFrame,
    plant: Plant,
    look: _Lookup,
    green: list[GreenContract],
    years: np.ndarray,
    year_day: dict[int, dt.date],
) -> pd.DataFrame:
    region = plant.site.grid_region
    gwp_set = plant.metering.gwp_set
    devices = {d.id: d for d in plant.devices}
    rows: list[pd.DataFrame] = []
    amount = energy["amount"].to_numpy(dtype=np.float64)

    def add(mask: np.ndarray, scope: str, method: str, co2: np.ndarray, co2e: np.ndarray, ref: str) -> None:
        if not mask.any():
            return
        sel = energy[mask]
        rows.append(
            pd.DataFrame(
                {
                    "site": sel["site"].to_numpy(),
                    "area": sel["area"].to_numpy(),
                    "device": sel["device"].to_numpy(),
                    "carrier": sel["carrier"].to_numpy(),
                    "role": sel["role"].to_numpy(),
                    "scope": scope,
                    "method": method,
                    "interval_start": sel["interval_start"].to_numpy(),
                    "activity": sel["amount"].to_numpy(),
                    "activity_unit": sel["unit"].to_numpy(),
                    "co2_kg": co2,
                    "co2e_kg": co2e,
                    "factor": ref,
                    "gwp": gwp_set,
                }
            )
        )

    # Consumption of electricity: import counters and every derived row; generation (e_exp only) is not.
    consumed = energy["quantity"].to_numpy() != "e_exp_kwh"
    carrier = energy["carrier"].to_numpy()
    roles = energy["role"].to_numpy()
    green_share = _green_share(energy, plant, green)
    for year in sorted(set(years.tolist())):
        in_year = years == year
        day = year_day[int(year)]
        elec = in_year & (carrier == "electricity") & consumed
        if elec.any():
            loc = look.get("grid-average", day, region=region, carrier="electricity")
            if loc is not None:
                co2 = amount[elec] * loc.kg_per("kWh")
                add(elec, "2", "location", co2, co2, loc.ref)
            # The residual (excluding market-traded non-fossil power) is published nationally only.
            residual_region = "cn-national" if region.startswith("cn-") else region
            market = look.get("grid-residual", day, region=residual_region, carrier="electricity") or loc
            mmask = elec & np.isin(roles, ["main"])
            if market is not None and mmask.any():
                non_green = amount[mmask] * (1.0 - green_share[mmask])
                co2 = non_green * market.kg_per("kWh")
                add(mmask, "2", "market", co2, co2, market.ref)
        heat = in_year & np.isin(carrier, list(HEAT_CARRIERS))
        if heat.any():
            f = look.get("purchased-heat", day, carrier="heat")
            if f is not None:
                co2 = amount[heat] * f.kg_per("GJ")
                add(heat, "2", "location", co2, co2, f.ref)
                add(
                    heat & (roles == "main"),
                    "2",
                    "market",
                    amount[heat & (roles == "main")] * f.kg_per("GJ"),
                    amount[heat & (roles == "main")] * f.kg_per("GJ"),
                    f.ref,
                )
        for fc in FUEL_CARRIERS:
            for fuel in sorted({_fuel(devices, d, fc) for d in energy["device"][in_year & (carrier == fc)]}):
                mask = in_year & (carrier == fc) & np.array([_fuel(devices, d, fc) == fuel for d in energy["device"]])
                if not mask.any():
                    continue
                f = (
                    look.get("fuel-combustion", day, region="cn-national", fuel=fuel)
                    if region.startswith("cn-")
                    else look.get("fuel-combustion", day, region=region, fuel=fuel)
                )
                if f is None:
                    continue
                act = ENERGY_UNITS[fc]
                co2 = amount[mask] * f.kg_per(act)
                co2e = co2.copy()
                if f.parameters is not None:
                    gj = amount[mask] * f.parameters.gj_per(act)
                    for kind, gas in (("fuel-ch4", "CH4"), ("fuel-n2o", "N2O")):
                        g = look.get(kind, day, fuel=fuel)
                        if g is not None:
                            co2e = co2e + gj * g.kg_per("GJ") * gwp(gas, gwp_set)
                add(mask, "1", "", co2, co2e, f.ref)
    if not rows:
        return _empty(EMISSION_COLUMNS)
    out = pd.concat(rows, ignore_index=True)
    out["interval_start"] = pd.to_datetime(out["interval_start"], utc=True)
    return out[EMISSION_COLUMNS].sort_values(["interval_start", "device", "scope", "method"]).reset_index(drop=True)


def _fuel(devices: dict[str, Device], device_id: str, carrier: str) -> str:
    dev = devices.get(device_id.split(":", 1)[0])
    return (dev.fuel if dev is not None and dev.fuel else None) or DEFAULT_FUEL[carrier]


def _green_share(energy: pd.DataFrame, plant: Plant, green: list[GreenContract]) -> np.ndarray:
    """Per energy row, the share of its kWh covered by green power (main electricity meters only)."""
    share = np.zeros(len(energy))
    if not green:
        return share
    mains = (energy["role"] == "main") & (energy["carrier"] == "electricity") & (energy["quantity"] != "e_exp_kwh")
    if not mains.any():
        return share
    site_kwh = energy[mains].groupby("interval_start")["amount"].sum()
    avail = green_kwh_per_interval(green, pd.DatetimeIndex(site_kwh.index), plant.site.timezone)
    ratio = (avail / site_kwh.where(site_kwh > 0)).clip(upper=1.0).fillna(0.0)
    share[mains.to_numpy()] = ratio.reindex(energy.loc[mains, "interval_start"]).to_numpy()
    return share


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
