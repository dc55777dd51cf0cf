"""Substitute `$timeFilter`, `$__interval` and template variables the way Grafana does.

Grafana's InfluxDB plugin (InfluxQL mode) first replaces template variables in the browser —
a multi-value or include-all variable becomes its values regex-escaped and joined as
`(a|b)` — then its backend replaces `$timeFilter` with `time >= <from>ms and time <= <to>ms`
and `$__interval` / `$interval` with the interval text (pkg/tsdb/influxdb/influxql/models).
The interval is the time range over the panel's max data points, rounded to Grafana's steps
and never below the datasource's minimum. Used to run every panel query for real.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# Grafana's interval rounding (grafana-plugin-sdk-go backend/gtime roundInterval), in ms.
_ROUND_STEPS: tuple[tuple[int, int], ...] = (
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1_500, 1_000),
    (3_500, 2_000),
    (7_500, 5_000),
    (12_500, 10_000),
    (17_500, 15_000),
    (25_000, 20_000),
    (45_000, 30_000),
    (90_000, 60_000),
    (210_000, 120_000),
    (450_000, 300_000),
    (780_000, 600_000),
    (1_200_000, 900_000),
    (2_700_000, 1_800_000),
    (5_400_000, 3_600_000),
    (9_000_000, 7_200_000),
    (16_200_000, 10_800_000),
    (32_400_000, 21_600_000),
    (86_400_000, 43_200_000),
    (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000),
)


def round_interval_ms(ms: float) -> int:
    for limit, step in _ROUND_STEPS:
        if ms <= limit:
            return step
    return 2_592_000_000  # 30 d


def format_interval(ms: int) -> str:
    """1 h → '1h', 90 s → '90s', as gtime.FormatInterval does (largest whole unit)."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def interval_ms(from_ms: int, to_ms: int, max_data_points: int = 1000, min_interval_ms: int = 10_000) -> int:
    return max(round_interval_ms((to_ms - from_ms) / max_data_points), min_interval_ms)


_RELATIVE = re.compile(r"^now(?:-(\d+)([smhdwMy]))?(?:/([smhdwMy]))?$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _start_of(t: datetime, unit: str) -> datetime:
    if unit == "y":
        return t.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "h":
        return t.replace(minute=0, second=0, microsecond=0)
    if unit == "w":
        return (t - timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return t.replace(second=0, microsecond=0) if unit == "m" else t.replace(microsecond=0)


def _end_of(t: datetime, unit: str) -> datetime:
    start = _start_of(t, unit)
    if unit == "y":
        nxt = start.replace(year=start.year + 1)
    elif unit == "M":
        nxt = (start + timedelta(days=32)).replace(day=1)
    else:
        nxt = start + timedelta(**{_UNITS.get(unit, "seconds"): 1})
    return nxt - timedelta(milliseconds=1)


def resolve(expr: str, now: datetime, tz: str, round_up: bool = False) -> datetime:
    """'now-24h', 'now/d', 'now/M' in the dashboard's time zone (Grafana's dateMath)."""
    m = _RELATIVE.match(expr)
    if not m:
        raise ValueError(f"unsupported time expression {expr!r}")
    t = now.astimezone(ZoneInfo(tz))
    if m.group(1):
        n, unit = int(m.group(1)), m.group(2)
        if unit == "M":
            month = t.month - n
            t = t.replace(year=t.year + (month - 1) // 12, month=(month - 1) % 12 + 1)
        elif unit == "y":
            t = t.replace(year=t.year - n)
        else:
            t = t - timedelta(**{_UNITS[unit]: n})
    if m.group(3):
        t = _end_of(t, m.group(3)) if round_up else _start_of(t, m.group(3))
    return t


def panel_range(
    dashboard_from: str, dashboard_to: str, time_from: str | None, now: datetime, tz: str
) -> tuple[int, int]:
    """The range a panel queries in epoch ms: the dashboard's, or the panel's relative time override.

    A `timeFrom` of '5m' means the last 5 minutes; 'now/d' means today (to the end of the day).
    """
    if time_from:
        if time_from.startswith("now"):
            lo, hi = resolve(time_from, now, tz), resolve(time_from, now, tz, round_up=True)
        else:
            lo, hi = resolve(f"now-{time_from}", now, tz), now
    else:
        lo, hi = resolve(dashboard_from, now, tz), resolve(dashboard_to, now, tz, round_up=True)
    return int(lo.timestamp() * 1000), int(hi.timestamp() * 1000)


def escape_regex(value: str) -> str:
    """Grafana's escapeRegex for values put into a /regex/ (plus '/', which ends the literal)."""
    return re.sub(r"([\\^$*+?.()|\[\]{}/])", r"\\\1", value)


def variable_text(values: Sequence[str], multi: bool) -> str:
    """What `$var` becomes: one value as is (regex-escaped when multi), several as (a|b)."""
    if not multi:
        return values[0] if values else ""
    escaped = [escape_regex(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(
    query: str,
    variables: Mapping[str, tuple[Sequence[str], bool]],
    from_ms: int | None = None,
    to_ms: int | None = None,
    interval: int | None = None,
) -> str:
    """Replace `$name`, `${name}` and `[[name]]` (longest names first), then the time macros."""
    out = query
    for name in sorted(variables, key=len, reverse=True):
        values, multi = variables[name]
        text = variable_text(values, multi)
        out = out.replace("${" + name + "}", text).replace("[[" + name + "]]", text)
        out = re.sub(r"\$" + re.escape(name) + r"\b", lambda _m, t=text: t, out)  # type: ignore[misc]
    if from_ms is not None and to_ms is not None:
        out = out.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    if interval is not None:
        text = format_interval(interval)
        out = out.replace("$interval", text).replace("$__interval_ms", str(interval)).replace("$__interval", text)
    return out
