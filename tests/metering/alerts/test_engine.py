"""The alert state machine: for-duration, hysteresis against flapping, schedules, conditions, validation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from metering.alerts.engine import RuleState, evaluate
from metering.alerts.rules import RuleSpec, Schedule

SH = ZoneInfo("Asia/Shanghai")
# Wednesday 2026-03-04 10:00 Shanghai time.
T0 = int(datetime(2026, 3, 4, 10, 0, tzinfo=SH).timestamp() * 1000)


def rule(**kw: object) -> RuleSpec:
    base: dict[str, object] = {"id": "r1", "site": "plant-a", "device": "tr-01", "quantity": "p_kw", "threshold": 100.0}
    return RuleSpec.model_validate({**base, **kw})


def run(r: RuleSpec, values: list[tuple[int, float]]) -> list[tuple[int, str]]:
    """Feed (seconds after T0, value) pairs; return (second, change) for each fire/resolve."""
    state = RuleState()
    out = []
    for sec, v in values:
        o = evaluate(r, state, v, T0 + sec * 1000, SH)
        state = o.state
        if o.change:
            out.append((sec, o.change))
    return out


def test_above_fires_once_and_resolves() -> None:
    assert run(rule(), [(0, 90), (1, 101), (2, 120), (3, 99)]) == [(1, "fire"), (3, "resolve")]


def test_for_duration_needs_the_breach_to_last() -> None:
    r = rule(for_s=10)
    # A 5 s spike does not fire; a breach lasting 10 s does, at the 10th second.
    assert run(r, [(0, 150), (5, 150), (6, 50), (20, 150), (25, 150), (30, 150)]) == [(30, "fire")]


def test_for_duration_restarts_after_a_dip() -> None:
    assert run(rule(for_s=10), [(0, 150), (9, 50), (10, 150), (19, 150), (20, 150)]) == [(20, "fire")]


def test_hysteresis_stops_flapping() -> None:
    wobble = [(i, 101.0 if i % 2 else 99.0) for i in range(1, 21)]
    # Without a clear level a value wobbling round the threshold fires and resolves every second...
    assert len(run(rule(), wobble)) == 20
    # ...with clear=90 it fires once and stays firing until the value really falls.
    assert run(rule(clear=90), [*wobble, (21, 95), (22, 89)]) == [(1, "fire"), (22, "resolve")]


def test_below() -> None:
    assert run(
        rule(condition="below", threshold=0.9, clear=0.92, quantity="pf"), [(0, 0.95), (1, 0.85), (2, 0.91), (3, 0.93)]
    ) == [
        (1, "fire"),
        (3, "resolve"),
    ]


def test_outside_band_with_margin() -> None:
    r = rule(condition="outside", threshold=None, low=49.5, high=50.5, clear=0.1, quantity="f_hz")
    assert run(r, [(0, 50.0), (1, 50.6), (2, 50.45), (3, 50.3), (4, 49.4), (5, 50.0)]) == [
        (1, "fire"),
        (3, "resolve"),
        (4, "fire"),
        (5, "resolve"),
    ]


def test_rate_of_change_per_minute() -> None:
    # 100 kW → 400 kW in 30 s is 600 kW/min, above 500 kW/min; then steady.
    r = rule(condition="rate_of_change", threshold=500)
    assert run(r, [(0, 100), (30, 400), (60, 410)]) == [(30, "fire"), (60, "resolve")]


def test_schedule_working_hours() -> None:
    hours = Schedule(days=[0, 1, 2, 3, 4], start="08:00", end="18:00")  # type: ignore[arg-type]
    r = rule(schedule=hours.model_dump())
    # T0 is Wednesday 10:00 local: active. 9 h later (19:00) it is outside working hours.
    assert run(r, [(0, 150)]) == [(0, "fire")]
    assert run(r, [(9 * 3600, 150)]) == []
    # Firing when the window closes resolves the alert.
    assert run(r, [(0, 150), (8 * 3600 + 1, 150)]) == [(0, "fire"), (8 * 3600 + 1, "resolve")]
    # Saturday is not a working day.
    assert run(r, [(3 * 86400, 150)]) == []


def test_schedule_wrapping_midnight() -> None:
    night = Schedule(days=[2], start="22:00", end="06:00")  # type: ignore[arg-type]
    wed_23 = int(datetime(2026, 3, 4, 23, 0, tzinfo=SH).timestamp() * 1000)
    thu_02 = int(datetime(2026, 3, 5, 2, 0, tzinfo=SH).timestamp() * 1000)
    thu_23 = int(datetime(2026, 3, 5, 23, 0, tzinfo=SH).timestamp() * 1000)
    assert night.active_at(wed_23, SH) and night.active_at(thu_02, SH)
    assert not night.active_at(thu_23, SH)


def test_disabled_rule_never_fires() -> None:
    assert run(rule(enabled=False), [(0, 500), (1, 500)]) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"clear": 120}, "clear (120.0) must not be above threshold (100.0)"),
        ({"condition": "below", "clear": 50}, "clear (50.0) must not be below threshold (100.0)"),
        ({"condition": "outside", "threshold": None, "low": 5, "high": 1}, "low (5.0) must be below high (1.0)"),
        ({"condition": "outside", "threshold": None}, "condition 'outside' needs low and high"),
        ({"threshold": None}, "condition 'above' needs a threshold"),
        ({"device": None}, "metric 'quantity' needs a device"),
        ({"quantity": None}, "metric 'quantity' needs a quantity"),
        ({"for_s": -1}, "greater than or equal to 0"),
        ({"id": "Bad Id"}, "String should match pattern"),
        ({"color": "red"}, "Extra inputs are not permitted"),
        ({"schedule": {"days": [7]}}, "days must be 0 (Monday) .. 6 (Sunday)"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        rule(**body)
    assert message in str(err.value)
