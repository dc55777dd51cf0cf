"""The alert state machine for one rule: breach, for-duration, hysteresis, schedule (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal
from zoneinfo import ZoneInfo

from metering.alerts.rules import RuleSpec

Change = Literal["fire", "resolve"]


@dataclass(frozen=True, slots=True)
class RuleState:
    active: bool = False
    pending_since_ms: int | None = None  # when the current breach began (for-duration)
    last_value: float | None = None  # for rate of change
    last_ts_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    state: RuleState
    change: Change | None
    value: float  # the value the rule compared (a rate for rate_of_change)


def observed(rule: RuleSpec, state: RuleState, value: float, ts_ms: int) -> tuple[float | None, RuleState]:
    """The value the rule compares: the reading itself, or its change per minute."""
    if rule.condition != "rate_of_change":
        return value, state
    prev_v, prev_ts = state.last_value, state.last_ts_ms
    nxt = replace(state, last_value=value, last_ts_ms=ts_ms)
    if prev_v is None or prev_ts is None or ts_ms <= prev_ts:
        return None, nxt
    return (value - prev_v) / ((ts_ms - prev_ts) / 60_000), nxt


def breached(rule: RuleSpec, v: float) -> bool:
    if rule.condition == "above":
        return v > rule.reference
    if rule.condition == "below":
        return v < rule.reference
    if rule.condition == "outside":
        assert rule.low is not None and rule.high is not None
        return v < rule.low or v > rule.high
    return abs(v) > rule.reference


def cleared(rule: RuleSpec, v: float) -> bool:
    """Back to normal past the clear level, so a value hovering at the threshold does not flap."""
    if rule.condition == "above":
        return v < (rule.clear if rule.clear is not None else rule.reference)
    if rule.condition == "below":
        return v > (rule.clear if rule.clear is not None else rule.reference)
    if rule.condition == "outside":
        assert rule.low is not None and rule.high is not None
        m = rule.clear or 0.0
        return rule.low + m <= v <= rule.high - m
    return abs(v) < (rule.clear if rule.clear is not None else rule.reference)


def evaluate(rule: RuleSpec, state: RuleState, value: float, ts_ms: int, tz: ZoneInfo) -> Outcome:
    """Feed one value at `ts_ms`; returns the new state and whether the alert fires or resolves."""
    v, state = observed(rule, state, value, ts_ms)
    if v is None:
        return Outcome(state, None, value)
    in_schedule = rule.schedule is None or rule.schedule.active_at(ts_ms, tz)
    if state.active:
        if not in_schedule or not rule.enabled or cleared(rule, v):
            return Outcome(replace(state, active=False, pending_since_ms=None), "resolve", v)
        return Outcome(state, None, v)
    if not (in_schedule and rule.enabled and breached(rule, v)):
        return Outcome(replace(state, pending_since_ms=None), None, v)
    since = state.pending_since_ms if state.pending_since_ms is not None else ts_ms
    if ts_ms - since >= rule.for_s * 1000:
        return Outcome(replace(state, active=True, pending_since_ms=None), "fire", v)
    return Outcome(replace(state, pending_since_ms=since), None, v)
