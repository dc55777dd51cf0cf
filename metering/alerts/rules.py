"""Alert rules as energy managers write them: what to watch, when it breaches, when it clears.

Bad input: a rule body from the API or a file — unknown keys, missing device for a device
metric, a clear level on the wrong side of the threshold, an empty schedule, a band with
low >= high. Validation raises pydantic's ValidationError naming the field; nothing is stored.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plantcarbon_core.wire import ID_PATTERN

QUANTITY_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

# quantity: a raw reading of one device; site_power: Σ p_kw of the main electricity meters (kW);
# site_co2_kg_h: site power × the grid factor (kg CO2/h); demand_forecast_pct: the demand
# engine's forecast as % of the contracted limit; data_age_s: seconds since a device last
# reported (device offline, data gap).
# intensity_kwh_per_t: kWh of the main electricity meters per tonne of product (`device`'s
# output_t counter) over the last `window_s`.
Metric = Literal["quantity", "site_power", "site_co2_kg_h", "demand_forecast_pct", "intensity_kwh_per_t", "data_age_s"]
Condition = Literal["above", "below", "outside", "rate_of_change"]
Severity = Literal["info", "warning", "critical"]


class Schedule(BaseModel):
    """When a rule is active, in the site's local time: weekdays (0 = Monday) and a daily window."""

    model_config = ConfigDict(extra="forbid")
    days: list[int] = Field(default=[0, 1, 2, 3, 4, 5, 6], min_length=1, max_length=7)
    start: time = time(0, 0)
    end: time = time(23, 59, 59)

    @model_validator(mode="after")
    def _check(self) -> Schedule:
        if any(not 0 <= d <= 6 for d in self.days):
            raise ValueError(f"days must be 0 (Monday) .. 6 (Sunday), got {self.days}")
        if self.start == self.end:
            raise ValueError("start and end must differ (a window that wraps midnight is allowed)")
        return self

    def active_at(self, ts_ms: int, tz: ZoneInfo) -> bool:
        local = datetime.fromtimestamp(ts_ms / 1000, tz)
        t = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= t < self.end
        # The window wraps midnight: the part after midnight belongs to the day before.
        if t >= self.start:
            return local.weekday() in self.days
        return t < self.end and (local.weekday() - 1) % 7 in self.days


class RuleSpec(BaseModel):
    """One threshold rule.

    - `above`: fires when value > threshold, clears when value < clear (default: threshold).
    - `below`: fires when value < threshold, clears when value > clear (default: threshold).
    - `outside`: fires when value < low or > high; clears back inside by the margin `clear` (≥ 0).
    - `rate_of_change`: fires when |Δvalue| per minute > threshold, clears below `clear`.
    `for_s`: the breach must last this long before the alert fires.
    """

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN, description="Rule id, used in the MQTT topic pc/{site}/alerts/{rule}.")
    site: str = Field(pattern=ID_PATTERN)
    name: str = Field(default="", max_length=200)
    metric: Metric = "quantity"
    device: str | None = Field(default=None, pattern=ID_PATTERN)
    quantity: str | None = Field(default=None, pattern=QUANTITY_PATTERN)
    condition: Condition = "above"
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    low: float | None = Field(default=None, allow_inf_nan=False)
    high: float | None = Field(default=None, allow_inf_nan=False)
    clear: float | None = Field(default=None, allow_inf_nan=False)
    for_s: float = Field(default=0, ge=0, le=86_400)
    window_s: float = Field(default=3600, ge=60, le=86_400, description="Window of intensity metrics.")
    severity: Severity = "warning"
    schedule: Schedule | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> RuleSpec:
        if self.metric in ("quantity", "data_age_s", "intensity_kwh_per_t") and not self.device:
            raise ValueError(f"metric {self.metric!r} needs a device")
        if self.metric == "quantity" and not self.quantity:
            raise ValueError("metric 'quantity' needs a quantity, e.g. 'p_kw'")
        if self.condition == "outside":
            if self.low is None or self.high is None:
                raise ValueError("condition 'outside' needs low and high")
            if self.low >= self.high:
                raise ValueError(f"low ({self.low}) must be below high ({self.high})")
            if self.clear is not None and (self.clear < 0 or 2 * self.clear >= self.high - self.low):
                raise ValueError("for 'outside', clear is a margin inside the band: 0 ≤ clear < (high − low) / 2")
            return self
        if self.threshold is None:
            raise ValueError(f"condition {self.condition!r} needs a threshold")
        if self.clear is not None:
            if self.condition in ("above", "rate_of_change") and self.clear > self.threshold:
                raise ValueError(f"clear ({self.clear}) must not be above threshold ({self.threshold})")
            if self.condition == "below" and self.clear < self.threshold:
                raise ValueError(f"clear ({self.clear}) must not be below threshold ({self.threshold})")
        if self.condition == "rate_of_change" and self.threshold <= 0:
            raise ValueError("rate_of_change threshold is a positive change per minute")
        return self

    @property
    def reference(self) -> float:
        """The level reported as `threshold` in notifications."""
        if self.condition == "outside":
            assert self.low is not None and self.high is not None
            return self.high
        assert self.threshold is not None
        return self.threshold

    def describe(self) -> str:
        what = {
            "quantity": f"{self.device}.{self.quantity}",
            "site_power": "site power (kW)",
            "site_co2_kg_h": "site CO2 rate (kg/h)",
            "demand_forecast_pct": "demand forecast (% of limit)",
            "intensity_kwh_per_t": f"kWh per t of {self.device}",
        }.get(self.metric, f"{self.device} data age (s)")
        if self.condition == "outside":
            return f"{what} outside {self.low}..{self.high}"
        if self.condition == "rate_of_change":
            return f"{what} changing faster than {self.threshold}/min"
        return f"{what} {self.condition} {self.threshold}"
