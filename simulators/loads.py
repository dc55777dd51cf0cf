"""Load models: deterministic rate of each simulated device (kW, Nm3/h, t/h) on a fixed time grid.

Every model is a pure function of the slot index (time // SLOT_S) and the seed, so the live
servers, history mode and the ground truth all see the same plant without sharing state.
Rates are constant within a slot: a cumulative counter is the exact sum of rate × slot length,
which is what makes the ground truth exact rather than approximately integrated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

SLOT_S = 5  # grid of the load models: rates are constant within one slot

Array = npt.NDArray[np.float64]
Slots = npt.NDArray[np.int64]


def key_of(*parts: object) -> int:
    """A stable 64-bit key from the seed and names (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


_M0, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO53 = float(1 << 53)


def uniform(slots: Slots, key: int) -> Array:
    """Counter-based noise in [0, 1): splitmix64 of (slot, key); same inputs, same numbers."""
    if len(slots) == 1:  # the live updater asks one slot at a time: plain ints are 10× faster
        return np.array([_uniform1(int(slots[0]), key)])
    # uint64 arithmetic wraps around silently for arrays, which is what the hash wants.
    z = np.asarray(slots, dtype=np.uint64) * _M0 + np.uint64(key & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return (z >> _S11).astype(np.float64) / _TWO53


def uniform_keys(slots: Slots, key: int, n: int) -> npt.NDArray[np.float64]:
    """uniform(slots, key + i) for i in 0..n-1 at once: shape (n, len(slots))."""
    keys = (np.uint64(key & 0xFFFFFFFFFFFFFFFF) + np.arange(n, dtype=np.uint64))[:, None]
    z = np.asarray(slots, dtype=np.uint64)[None, :] * _M0 + keys
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return (z >> _S11).astype(np.float64) / _TWO53


def _uniform1(slot: int, key: int) -> float:
    mask = 0xFFFFFFFFFFFFFFFF
    z = ((slot & mask) * 0x9E3779B97F4A7C15 + (key & mask)) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z >> 11) / _TWO53


def smooth_noise(slots: Slots, key: int, period_slots: int) -> Array:
    """Noise in [-1, 1] that changes slowly: linear between random knots every `period_slots`."""
    k0 = slots // period_slots
    frac = (slots - k0 * period_slots) / period_slots
    a = uniform(k0, key)
    b = uniform(k0 + 1, key)
    return np.asarray((a + (b - a) * frac) * 2.0 - 1.0, dtype=np.float64)


@dataclass(frozen=True)
class Calendar:
    """Shift calendar: production intensity 0..1 by local hour, weekday and holiday."""

    tz: ZoneInfo
    # (start hour, end hour, intensity) for the three shifts
    shifts: tuple[tuple[float, float, float], ...] = ((0.0, 8.0, 0.8), (8.0, 16.0, 1.0), (16.0, 24.0, 0.9))
    weekend: float = 0.5  # intensity multiplier on Saturday and Sunday
    holidays: frozenset[date] = frozenset()
    holiday: float = 0.2

    def local(self, slots: Slots) -> tuple[Array, npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Local hour of day (float), weekday (0=Mon) and holiday flag for each slot."""
        ts = slots * SLOT_S
        # Time-zone offsets change rarely: compute them per distinct hour, not per slot.
        hours = ts // 3600
        uniq, inv = np.unique(hours, return_inverse=True)
        offs = np.array(
            [datetime.fromtimestamp(int(h) * 3600, self.tz).utcoffset().total_seconds() for h in uniq],  # type: ignore[union-attr]
            dtype=np.int64,
        )
        local = ts + offs[inv]
        day = local // 86400
        hour = (local - day * 86400) / 3600.0
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
        if self.holidays:
            hol_days = np.array([(d - date(1970, 1, 1)).days for d in self.holidays], dtype=np.int64)
            holiday = np.isin(day, hol_days)
        else:
            holiday = np.zeros(len(slots), dtype=bool)
        return hour.astype(np.float64), weekday, holiday

    def intensity(self, slots: Slots) -> Array:
        # Many devices ask for the same contiguous run of slots in one evaluation: cache by run.
        n = len(slots)
        if n and int(slots[-1]) - int(slots[0]) == n - 1:
            return _intensity_run(self, int(slots[0]), n).copy()
        return self._intensity(slots)

    def _intensity(self, slots: Slots) -> Array:
        hour, weekday, holiday = self.local(slots)
        out = np.zeros(len(slots), dtype=np.float64)
        for start, end, level in self.shifts:
            out[(hour >= start) & (hour < end)] = level
        out[weekday >= 5] *= self.weekend
        out[holiday] *= self.holiday
        return out


@lru_cache(maxsize=64)
def _intensity_run(cal: Calendar, first: int, n: int) -> Array:
    return cal._intensity(np.arange(first, first + n, dtype=np.int64))


@dataclass
class Context:
    """What a load model may look at: the slots, the calendar, its own noise key, other devices' rates."""

    slots: Slots
    calendar: Calendar
    key: int
    rated: float
    params: dict[str, float]
    children: Callable[[], Array] = field(default=lambda: np.zeros(0))
    source: Callable[[str], Array] = field(default=lambda _id: np.zeros(0))
    from_device: str | None = None  # the device whose rate this one follows (a boiler for steam)

    def p(self, name: str, default: float) -> float:
        return float(self.params.get(name, default))

    def noise(self, amplitude: float, salt: int = 0) -> Array:
        return (uniform(self.slots, self.key + salt) * 2.0 - 1.0) * amplitude


def _running(ctx: Context, slots: Slots) -> npt.NDArray[np.bool_]:
    """A motor runs when the shift intensity passes its threshold (staggered per device)."""
    threshold = ctx.p("run_threshold", 0.0)
    if threshold <= 0:
        return np.ones(len(slots), dtype=bool)
    return ctx.calendar.intensity(slots) >= threshold


def kiln(ctx: Context) -> Array:
    """Kilns and furnaces: high and steady, a slow drift of a few per cent."""
    base = ctx.p("load", 0.88)
    return ctx.rated * (base + 0.03 * smooth_noise(ctx.slots, ctx.key, 360) + ctx.noise(0.005))


def mill(ctx: Context) -> Array:
    """Raw and cement mills: follow the shift calendar, stop below a threshold."""
    intensity = ctx.calendar.intensity(ctx.slots)
    on = _running(ctx, ctx.slots)
    load = ctx.p("load", 0.85) * np.clip(0.6 + 0.4 * intensity, 0, 1) + 0.04 * smooth_noise(ctx.slots, ctx.key, 120)
    return np.where(on, ctx.rated * load + ctx.noise(0.003 * ctx.rated), ctx.rated * ctx.p("idle", 0.0))


def compressor(ctx: Context) -> Array:
    """Screw compressor: load/unload cycling; the loaded share follows air demand (the shifts)."""
    period = max(ctx.p("cycle_s", 120.0) / 5.0, 2.0)  # in slots
    phase = (ctx.key % 997) / 997.0
    pos = np.mod(ctx.slots / period + phase, 1.0)
    demand = np.clip(0.25 + 0.65 * ctx.calendar.intensity(ctx.slots), 0.05, 0.95)
    loaded = pos < demand
    unloaded = ctx.p("unload", 0.3)
    out = np.where(loaded, ctx.rated * 0.95, ctx.rated * unloaded)
    return out + ctx.noise(0.005 * ctx.rated)


# Active power of a direct-on-line start, in the first slot after switch-on, over rated (see `motor`).
START_POWER_RATIO = 2.0


def motor(ctx: Context) -> Array:
    """Motors, fans, pumps: run on the shift calendar; start inrush; a VFD follows demand (cube law)."""
    slots = ctx.slots
    on = _running(ctx, slots)
    # A direct-on-line start draws the air-gap power of the starting torque (torque × synchronous
    # speed) whatever the shaft speed: about 2× rated active power for a few seconds (locked-rotor
    # torque of IEC 60034-12 design N motors is 1.6–2.5× rated); the current is 6–7× but at a
    # locked-rotor power factor near 0.3, so it is not the active-power multiple.
    inrush = ctx.p("inrush", START_POWER_RATIO)
    just_started = on & ~_running(ctx, slots - 1)
    started_2 = on & ~_running(ctx, slots - 2) & ~just_started
    if ctx.p("vfd", 0.0) > 0:
        speed = np.clip(0.55 + 0.4 * ctx.calendar.intensity(slots) + 0.05 * smooth_noise(slots, ctx.key, 60), 0.3, 1.0)
        load = speed**3
        inrush = 1.2  # a VFD soft-starts
    else:
        load = ctx.p("load", 0.75) + 0.02 * smooth_noise(slots, ctx.key, 60)
    p = ctx.rated * load
    p = np.where(just_started, p * inrush, np.where(started_2, p * (1 + (inrush - 1) / 2), p))
    return np.where(on, p + ctx.noise(0.004 * ctx.rated), 0.0)


def lighting(ctx: Context) -> Array:
    """Lighting: on at night and during the shifts, a low base otherwise."""
    hour, _, _ = ctx.calendar.local(ctx.slots)
    night = (hour >= 18) | (hour < 7)
    level = np.where(night, 1.0, 0.35) * np.where(ctx.calendar.intensity(ctx.slots) > 0, 1.0, 0.5)
    return ctx.rated * level + ctx.noise(0.01 * ctx.rated)


def hvac(ctx: Context) -> Array:
    """HVAC: a daily curve peaking in the afternoon, plus slow weather noise."""
    hour, _, _ = ctx.calendar.local(ctx.slots)
    daily = 0.45 + 0.4 * np.cos((hour - 15.0) / 24.0 * 2 * np.pi)
    return ctx.rated * np.clip(daily + 0.08 * smooth_noise(ctx.slots, ctx.key, 720), 0.05, 1.0)


def pv(ctx: Context) -> Array:
    """PV: an irradiance curve between 06:00 and 18:00 with passing clouds; negative = export."""
    hour, _, _ = ctx.calendar.local(ctx.slots)
    sun = np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None) ** 1.3
    clouds = 1.0 - 0.35 * np.clip(smooth_noise(ctx.slots, ctx.key, 60), 0.0, 1.0)
    return -ctx.rated * ctx.p("performance", 0.82) * sun * clouds


def constant(ctx: Context) -> Array:
    return ctx.rated * ctx.p("load", 0.5) + ctx.noise(0.002 * ctx.rated)


def boiler(ctx: Context) -> Array:
    """Gas boiler: fuel flow (Nm3/h) modulating with the process steam demand."""
    demand = 0.45 + 0.45 * ctx.calendar.intensity(ctx.slots) + 0.05 * smooth_noise(ctx.slots, ctx.key, 180)
    return ctx.rated * np.clip(demand, 0.2, 1.0)


def steam(ctx: Context) -> Array:
    """Steam header: mass flow (t/h) raised from its boiler's gas flow (Nm3 per t of steam)."""
    if ctx.from_device is None:
        return ctx.rated * np.clip(0.5 + 0.4 * ctx.calendar.intensity(ctx.slots), 0.1, 1.0)
    gas = ctx.source(ctx.from_device)
    return gas / ctx.p("nm3_per_t", 75.0)


def production(ctx: Context) -> Array:
    """Production line output (t/h): the rated rate scaled by shift intensity."""
    return ctx.rated * ctx.calendar.intensity(ctx.slots) * (0.95 + 0.03 * smooth_noise(ctx.slots, ctx.key, 120))


def transformer(ctx: Context) -> Array:
    """Σ children + losses: no-load (iron) loss plus load (copper) loss ∝ (S / S_rated)²."""
    net = ctx.children()
    s_kva = np.abs(net) / ctx.p("pf", 0.92)
    rated_kva = ctx.p("rated_kva", ctx.rated / 0.92)
    loss = ctx.p("no_load_kw", 0.0012 * rated_kva) + ctx.p("load_loss_kw", 0.009 * rated_kva) * (s_kva / rated_kva) ** 2
    return net + loss


MODELS: dict[str, Callable[[Context], Array]] = {
    "kiln": kiln,
    "furnace": kiln,
    "mill": mill,
    "compressor": compressor,
    "motor": motor,
    "fan": motor,
    "pump": motor,
    "lighting": lighting,
    "hvac": hvac,
    "pv": pv,
    "constant": constant,
    "boiler": boiler,
    "steam": steam,
    "production": production,
    "transformer": transformer,
}


def transformer_loss(net: Array, rated: float, params: dict[str, float]) -> Array:
    """The loss part of `transformer`, for the ground truth's loss column."""
    s_kva = np.abs(net) / float(params.get("pf", 0.92))
    rated_kva = float(params.get("rated_kva", rated / 0.92))
    no_load = float(params.get("no_load_kw", 0.0012 * rated_kva))
    load_loss = float(params.get("load_loss_kw", 0.009 * rated_kva))
    return np.asarray(no_load + load_loss * (s_kva / rated_kva) ** 2, dtype=np.float64)
