"""tce and CO2 per interval: energy rows → the same rows with tce, and scope 1/2 emissions rows (pure).

Emissions rows (`EMISSION_COLUMNS`) are what the `emissions` measurement holds. Every emissions
row names the factor `id@version` it used. A factor that cannot be found for a row is not
guessed: the row is left out and the reason is returned in `Result.problems` (one line per
kind), so a service logs it and goes on. Internal transfers (own boiler steam, on-site PV) get
tce 0 and no emissions rows: counted once, at the fuel or purchase that entered the fence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metering.carbon.energy import DEFAULT_FUEL, ENERGY_UNITS, FUEL_CARRIERS, HEAT_CARRIERS, energy_rows
from metering.carbon.factor_registry import CO2_PER_C, Factor, FactorNotFound, Registry, gwp, parse_unit
from metering.carbon.frames import as_category, concat_frames, const_column, empty_frame, equals, label_array
from metering.carbon.green_power import GreenContract, green_share
from metering.carbon.ncv import Ncv, ncv_for
from plantcarbon_core.plant import Plant

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
    return tce_and_co2(energy_rows(intervals, plant), plant, registry, green)


def tce_and_co2(
    energy: pd.DataFrame,
    plant: Plant,
    registry: Registry,
    green: Iterable[GreenContract] = (),
) -> Result:
    """Energy rows → the same rows with tce, and their emissions: the factor-dependent half of `compute`.

    A recompute after a factor update starts here, from the energy rows stored earlier.
    """
    if energy.empty:
        return Result(energy, empty_frame(EMISSION_COLUMNS), [])
    # Factors follow the interval's local calendar day (a Shanghai year starts at 16:00 UTC).
    local_day = energy["interval_start"].dt.tz_convert(plant.site.timezone).dt.tz_localize(None).dt.normalize()
    day_codes, uniq = pd.factorize(local_day)
    look = _Lookup(registry, np.asarray(day_codes), [pd.Timestamp(d).date() for d in uniq])
    tce_kind = "tce-generation" if plant.metering.electricity_tce == "generation" else "tce"
    amount = energy["amount"].to_numpy(dtype=np.float64)
    carrier = label_array(energy["carrier"])
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
    dev = as_category(energy["device"])
    lut = np.array([str(x) in internal for x in dev.cat.categories] + [False], dtype=bool)
    return np.asarray(lut[dev.cat.codes.to_numpy()]) | equals(energy["quantity"], "e_exp_kwh")


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
                    "scope": const_column(scope, len(sel)),
                    "method": const_column(method, len(sel)),
                    "interval_start": sel["interval_start"].array,
                    "activity": sel["amount"].to_numpy(),
                    "activity_unit": sel["unit"].array,
                    "co2_kg": co2[mask],
                    "co2e_kg": co2e[mask],
                    "factor": pd.Categorical(ref[mask]),
                    "gwp": const_column(gwp_set, len(sel)),
                    "ncv": pd.Categorical(ncv[mask]) if ncv is not None else const_column("", len(sel)),
                }
            )
        )

    carrier = label_array(energy["carrier"])
    roles = label_array(energy["role"])
    # Consumption of electricity: import counters and every derived row; generation (e_exp only) is not.
    consumed = ~equals(energy["quantity"], "e_exp_kwh")
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
            non_green = amount * (1.0 - green_share(energy, plant, green))
            add(mains, "2", "market", non_green * mkg, non_green * mkg, mref)
    heat = np.isin(carrier, list(HEAT_CARRIERS)) & bought
    if heat.any():
        kg, ref, _ = look.column("purchased-heat", "GJ", carrier="heat")
        add(heat, "2", "location", amount * kg, amount * kg, ref)
        add(heat & (roles == "main"), "2", "market", amount * kg, amount * kg, ref)
    fuel_of = {d.id: d.fuel or DEFAULT_FUEL.get(d.carrier, "") for d in plant.devices}
    fuel_rows = np.isin(carrier, list(FUEL_CARRIERS)) & bought
    if fuel_rows.any():
        fuels = label_array(energy["device"].map(lambda d: fuel_of.get(str(d).split(":", 1)[0], "")))
        for fuel in sorted(set(fuels[fuel_rows]) - {""}):
            mask = (fuels == fuel) & fuel_rows
            act = ENERGY_UNITS[str(carrier[mask][0])]
            fregion = "cn-national" if region.startswith("cn-") else region
            own = fuel in plant.metering.ncv
            devices = ", ".join(sorted(set(label_array(energy["device"])[mask])))
            kg, gj_per, ref, cited = look.fuel(fuel, act, fregion, ncv_for(plant, fuel), own, devices)
            co2 = amount * kg
            co2e = co2.copy()
            for kind, gas in (("fuel-ch4", "CH4"), ("fuel-n2o", "N2O")):
                gkg, _, _ = look.column(kind, "GJ", fuel=fuel)
                extra = amount * gj_per * gkg * gwp(gas, gwp_set)
                co2e = co2e + np.where(np.isfinite(extra), extra, 0.0)
            add(mask, "1", "", co2, co2e, ref, cited)
    if not rows:
        return empty_frame(EMISSION_COLUMNS)
    out = concat_frames(rows)
    out["interval_start"] = pd.to_datetime(out["interval_start"], utc=True)
    for c in ("site", "area", "device", "carrier", "role", "scope", "method", "activity_unit", "factor", "gwp", "ncv"):
        out[c] = out[c].astype("category")
    out = out[EMISSION_COLUMNS].sort_values(["interval_start", "device", "scope", "method"], kind="stable")
    return out.reset_index(drop=True)
