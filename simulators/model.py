"""The plant's physics: per-device rates on the slot grid, exact cumulative counters, derived gauges, truth.

`PlantModel.rates(slots)` evaluates every device's load model (children before their
transformer, DR events applied); `integrate` sums rate × overlap over slots, which is the exact
energy / fuel / steam / output delivered — the ground truth. Counters shown by meters are
`base + integral since origin`, so a counter delta always equals the truth over the same span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np
import pandas as pd

from simulators.loads import (
    MODELS,
    SLOT_S,
    Array,
    Calendar,
    Context,
    Slots,
    key_of,
    smooth_noise,
    transformer_loss,
    uniform,
    uniform_keys,
)
from simulators.scenario import Scenario, SimDevice, resolve_when

# Carrier → (rate quantity, counter quantity) for everything but electricity.
FLOW: dict[str, tuple[str, str]] = {
    "natural_gas": ("flow_nm3h", "vol_nm3"),
    "steam": ("flow_th", "mass_t"),
    "production": ("rate_th", "output_t"),
    "water": ("flow_m3h", "vol_m3"),
    "coal": ("flow_th", "mass_t"),
    "diesel": ("flow_th", "mass_t"),
    "heat": ("heat_rate_gjh", "heat_gj"),
}
STEAM_GJ_PER_T = 2.68  # enthalpy rise feedwater → ~1 MPa saturated steam, for heat_gj


def flow_of(d: SimDevice) -> tuple[str, str]:
    """(rate quantity, counter quantity) of a device that is not electric.

    A product on a belt weigher (`params: {weighed: 1}`, e.g. clinker or raw meal on a BW500)
    is weighed like a fuel: t/h and a tonnes totalizer (`mass_t`) instead of `output_t`.
    """
    if d.carrier == "production" and d.params.get("weighed"):
        return ("flow_th", "mass_t")
    return FLOW[d.carrier]


def counters_of(d: SimDevice) -> list[str]:
    if d.carrier == "electricity":
        return ["e_imp_kwh", "e_exp_kwh", "eq_imp_kvarh", "eq_exp_kvarh"]
    if d.carrier == "steam":
        return ["mass_t", "heat_gj"]
    return [flow_of(d)[1]]


def unit_of(d: SimDevice) -> str:
    return {"electricity": "kWh", "natural_gas": "Nm3", "steam": "t", "production": "t", "water": "m3"}.get(
        d.carrier, "unit"
    )


@dataclass(frozen=True)
class DrWindow:
    id: str
    start: datetime
    end: datetime
    shed: dict[str, float]


class PlantModel:
    """All devices of a scenario, evaluated from a seed; `origin` is when the counters start."""

    def __init__(self, scenario: Scenario, seed: int | None = None, origin: datetime | None = None):
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        # Counters start at a slot boundary, so "integral since origin" is a sum of whole slots.
        self.origin = _floor(origin or datetime.now().astimezone(), SLOT_S)
        cal = scenario.calendar
        self.calendar = Calendar(
            tz=scenario.site.tz,
            shifts=tuple(tuple(s) for s in cal.shifts),  # type: ignore[misc]
            weekend=cal.weekend,
            holidays=frozenset(cal.holidays),
            holiday=cal.holiday,
        )
        self.devices = {d.id: d for d in scenario.devices}
        self.dr = [
            DrWindow(e.id, resolve_when(e.start, self.origin), resolve_when(e.end, self.origin), dict(e.shed))
            for e in scenario.dr_events
        ]
        self.origin_slot = int(self.origin.timestamp()) // SLOT_S

    # --- rates -------------------------------------------------------------------------------

    def key(self, device_id: str, salt: str = "") -> int:
        return key_of(self.seed, device_id, salt)

    @cached_property
    def children(self) -> dict[str, list[str]]:
        """Per device, its children of the same carrier (what a transformer sums)."""
        out: dict[str, list[str]] = {i: [] for i in self.devices}
        for d in self.scenario.devices:
            if d.parent is not None and self.devices[d.parent].carrier == d.carrier:
                out[d.parent].append(d.id)
        return out

    @cached_property
    def order(self) -> list[str]:
        """Devices with children and sources before the devices that depend on them."""
        done: list[str] = []

        def visit(i: str, path: tuple[str, ...]) -> None:
            if i in done or i in path:
                return
            d = self.devices[i]
            deps = [c.id for c in self.scenario.children(i)] if d.model_name == "transformer" else []
            if "from_boiler" in d.params:
                deps.append(str(d.params["from_boiler"]))
            for dep in deps:
                visit(dep, (*path, i))
            done.append(i)

        for i in self.devices:
            visit(i, ())
        return done

    def rates(self, slots: Slots, *, dr: bool = True) -> dict[str, Array]:
        """Rate per device per slot (kW; Nm3/h, t/h for other carriers), DR events applied if `dr`."""
        out: dict[str, Array] = {}
        shed = self._shed_factors(slots) if dr else {}
        for i in self.order:
            d = self.devices[i]
            children = self.children[i]

            def kids(cs: list[str] = children, n: int = len(slots)) -> Array:
                return np.asarray(np.sum([out[c] for c in cs], axis=0)) if cs else np.zeros(n)

            src = d.params.get("from_boiler")
            ctx = Context(
                slots=slots,
                calendar=self.calendar,
                key=self.key(i),
                rated=d.rated,
                params={k: float(v) for k, v in d.params.items() if not isinstance(v, str)},
                children=kids,
                source=lambda s: out[s],
                from_device=str(src) if src is not None else None,
            )
            r = np.asarray(MODELS[d.model_name](ctx), dtype=np.float64)
            if d.model_name not in ("pv", "transformer"):
                r = np.maximum(r, 0.0)
            if i in shed:
                r = r * shed[i]
            out[i] = r
        return out

    def _shed_factors(self, slots: Slots) -> dict[str, Array]:
        out: dict[str, Array] = {}
        for w in self.dr:
            a = int(w.start.timestamp()) // SLOT_S
            b = math.ceil(w.end.timestamp() / SLOT_S)
            inside = (slots >= a) & (slots < b)
            if not inside.any():
                continue
            for dev, f in w.shed.items():
                cur = out.setdefault(dev, np.ones(len(slots)))
                cur[inside] = np.minimum(cur[inside], f)
        return out

    def loss(self, device_id: str, rates: dict[str, Array]) -> Array:
        d = self.devices[device_id]
        if d.model_name != "transformer":
            return np.zeros_like(rates[device_id])
        kids = [c.id for c in self.scenario.children(device_id) if c.carrier == d.carrier]
        net = np.sum([rates[c] for c in kids], axis=0) if kids else np.zeros_like(rates[device_id])
        params = {k: float(v) for k, v in d.params.items() if isinstance(v, (int, float))}
        return transformer_loss(net, d.rated, params)

    # --- per-quantity rates that counters integrate -----------------------------------------

    def pf(self, device_id: str, slots: Slots) -> Array:
        d = self.devices[device_id]
        return np.clip(d.pf + 0.01 * smooth_noise(slots, self.key(device_id, "pf"), 120), 0.5, 1.0)

    def counter_rates(self, device_id: str, rate: Array, slots: Slots) -> dict[str, Array]:
        """Per-hour rate of each counter of the device (what its registers integrate)."""
        d = self.devices[device_id]
        if d.carrier == "electricity":
            pf = self.pf(device_id, slots)
            return {
                "e_imp_kwh": np.maximum(rate, 0.0),
                "e_exp_kwh": np.maximum(-rate, 0.0),
                "eq_imp_kvarh": np.abs(rate) * np.tan(np.arccos(pf)),
                "eq_exp_kvarh": np.zeros_like(rate),  # inductive loads only: no capacitive reactive energy
            }
        if d.carrier == "steam":
            return {"mass_t": rate, "heat_gj": rate * STEAM_GJ_PER_T}
        return {flow_of(d)[1]: rate}

    def counter_base(self, device_id: str, counter: str) -> float:
        """The reading the meter showed at the origin: a seeded, realistic non-zero start."""
        return round(1000.0 + uniform(np.array([0]), self.key(device_id, counter))[0] * 500_000.0, 1)

    # --- integration -------------------------------------------------------------------------

    def slots_between(self, start: datetime, end: datetime) -> tuple[Slots, Array]:
        """Slots overlapping [start, end) and the seconds of each that fall inside."""
        a, b = start.timestamp(), end.timestamp()
        s0, s1 = int(a // SLOT_S), math.ceil(b / SLOT_S)
        slots = np.arange(s0, max(s1, s0), dtype=np.int64)
        lo = np.maximum(slots * SLOT_S, a)
        hi = np.minimum((slots + 1) * SLOT_S, b)
        return slots, np.clip(hi - lo, 0, None).astype(np.float64)

    def integrate(self, start: datetime, end: datetime) -> dict[str, dict[str, float]]:
        """Exact amount of every counter of every device over [start, end)."""
        slots, secs = self.slots_between(start, end)
        rates = self.rates(slots)
        out: dict[str, dict[str, float]] = {}
        for i, d in self.devices.items():
            cr = self.counter_rates(i, rates[i], slots)
            out[i] = {k: float(np.dot(v, secs) / 3600.0) for k, v in cr.items()}
            if d.model_name == "transformer":
                out[i]["loss_kwh"] = float(np.dot(self.loss(i, rates), secs) / 3600.0)
        return out

    def truth(self, start: datetime, end: datetime, interval_s: int = 900) -> pd.DataFrame:
        """Ground truth: per device and interval, the exact amount delivered, from the load model.

        Columns: device, start, end (UTC), carrier, unit, net (import − export for electricity),
        imp, exp, loss (transformer losses included in the transformer's own net), shed (the DR
        reduction: rate without DR events minus with, integrated).
        """
        step = timedelta(seconds=interval_s)
        first = _floor(start, interval_s)
        rows = []
        t = first
        # One pass over all slots, then group per interval: fast enough for a month of a big plant.
        slots, secs = self.slots_between(first, _ceil(end, interval_s))
        rates = self.rates(slots)
        base = self.rates(slots, dr=False) if self.dr else rates
        bucket = ((slots * SLOT_S - int(first.timestamp())) // interval_s).astype(np.int64)
        nb = int(bucket.max()) + 1 if len(bucket) else 0
        for i, d in self.devices.items():
            cr = self.counter_rates(i, rates[i], slots)
            if d.carrier == "electricity":
                imp_r, exp_r = cr["e_imp_kwh"], cr["e_exp_kwh"]
            else:
                imp_r = next(iter(cr.values()))
                exp_r = np.zeros_like(imp_r)
            loss_r = self.loss(i, rates)
            shed_r = base[i] - rates[i]
            sums = {
                name: np.bincount(bucket, weights=r * secs / 3600.0, minlength=nb)
                for name, r in (("imp", imp_r), ("exp", exp_r), ("loss", loss_r), ("shed", shed_r))
            }
            for b in range(nb):
                t = first + b * step
                rows.append(
                    {
                        "device": i,
                        "start": t,
                        "end": t + step,
                        "carrier": d.carrier,
                        "unit": unit_of(d),
                        "net": sums["imp"][b] - sums["exp"][b],
                        "imp": sums["imp"][b],
                        "exp": sums["exp"][b],
                        "loss": sums["loss"][b],
                        "shed": sums["shed"][b],
                    }
                )
        df = pd.DataFrame(rows)
        if not df.empty:
            df = df[(df["end"] > start) & (df["start"] < end)].reset_index(drop=True)
            df["start"] = pd.to_datetime(df["start"], utc=True)
            df["end"] = pd.to_datetime(df["end"], utc=True)
        return df

    # --- what a meter shows ------------------------------------------------------------------

    def gauges(self, device_id: str, rate: Array, slots: Slots) -> dict[str, Array]:
        """Instantaneous values a meter of this device shows, derived from its rate in each slot."""
        d = self.devices[device_id]
        k = self.key(device_id, "g")
        # All the small per-quantity noises of a slot in one 2-D draw: row = salt, column = slot.
        u = uniform_keys(slots, k, 24) * 2 - 1

        def n(salt: int, amp: float) -> Array:
            return np.asarray(u[salt] * amp, dtype=np.float64)

        if d.carrier == "electricity":
            pf = self.pf(device_id, slots)
            v = d.voltage_v * (1 + n(1, 0.004))
            s_kva = np.abs(rate) / pf
            i = s_kva * 1000.0 / (3 * v)
            out = {
                "p_kw": rate,
                "q_kvar": np.abs(rate) * np.tan(np.arccos(pf)),
                "s_kva": s_kva,
                "pf": pf,
                "f_hz": 50.0 + n(2, 0.03),
                "demand_kw": rate,
                "thd_v_pct": 2.0 + n(9, 0.5),
                "thd_i_pct": 5.0 + n(10, 1.5),
                "load_pct": np.abs(rate) / d.rated * 100.0,
                "running_bool": (np.abs(rate) > 0.02 * d.rated).astype(np.float64),
                "i_n_a": i * 0.03,
            }
            for ph, salt in (("1", 3), ("2", 4), ("3", 5)):
                share = 1 / 3 + n(salt, 0.004)
                out[f"p_l{ph}_kw"] = rate * share
                out[f"v_l{ph}_v"] = v * (1 + n(salt + 10, 0.003))
                out[f"i_l{ph}_a"] = i * share * 3
            for pair, salt in (("12", 16), ("23", 17), ("31", 18)):
                out[f"v_l{pair}_v"] = v * math.sqrt(3) * (1 + n(salt, 0.003))
            return out
        if d.carrier == "natural_gas":
            return {"flow_nm3h": rate, "temp_c": 15.0 + n(1, 2.0), "press_kpa": 300.0 + n(2, 5.0)}
        if d.carrier == "steam":
            return {
                "flow_th": rate,
                "heat_rate_gjh": rate * STEAM_GJ_PER_T,
                "temp_c": 184.0 + n(1, 1.5),
                "press_mpa": 1.0 + n(2, 0.02),
            }
        if d.carrier == "production":
            return {flow_of(d)[0]: rate, "running_bool": (rate > 0).astype(np.float64)}
        q_rate, _ = flow_of(d)
        return {q_rate: rate}


class Integrator:
    """Running integral of every counter since the model's origin, advanced as time goes on (live mode)."""

    def __init__(self, model: PlantModel, chunk_slots: int = 720):
        self.model = model
        self.slot = model.origin_slot  # integrals below are up to the start of this slot
        self.chunk = chunk_slots
        self.cum: dict[str, dict[str, float]] = {
            i: dict.fromkeys(counters_of(d), 0.0) for i, d in model.devices.items()
        }

    def advance(self, slot: int) -> None:
        while self.slot < slot:
            end = min(slot, self.slot + self.chunk)
            slots = np.arange(self.slot, end, dtype=np.int64)
            rates = self.model.rates(slots)
            for i, counters in self.cum.items():
                for k, r in self.model.counter_rates(i, rates[i], slots).items():
                    counters[k] += float(r.sum()) * SLOT_S / 3600.0
            self.slot = end

    def at(self, ts: float) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """(rate per device, counters per device) at epoch seconds `ts` (not before the origin)."""
        slot = int(ts // SLOT_S)
        self.advance(slot)
        base = self.cum
        if slot < self.slot:
            # A time already passed (e.g. a payload's own timestamp): take back the slots since.
            back = np.arange(slot, self.slot, dtype=np.int64)
            back_rates = self.model.rates(back)
            base = {}
            for i, cum in self.cum.items():
                cr_back = self.model.counter_rates(i, back_rates[i], back)
                base[i] = {k: cum[k] - float(cr_back[k].sum()) * SLOT_S / 3600.0 for k in cum}
        slots = np.array([slot], dtype=np.int64)
        rates = self.model.rates(slots)
        frac_h = (ts - slot * SLOT_S) / 3600.0
        counters: dict[str, dict[str, float]] = {}
        for i, cum in base.items():
            cr = self.model.counter_rates(i, rates[i], slots)
            counters[i] = {k: cum[k] + float(cr[k][0]) * frac_h for k in cum}
        return {i: float(r[0]) for i, r in rates.items()}, counters


def _floor(t: datetime, step_s: int) -> datetime:
    ts = int(t.timestamp())
    return datetime.fromtimestamp(ts - ts % step_s, t.tzinfo)


def _ceil(t: datetime, step_s: int) -> datetime:
    ts = math.ceil(t.timestamp())
    return datetime.fromtimestamp(ts + (-ts) % step_s, t.tzinfo)
