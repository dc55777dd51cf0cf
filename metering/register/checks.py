"""Register alerts: calibrations falling due or lapsed, classes below GB 17167 — findings (pure) and their sync
with the alert store through the existing engine's notifiers.

`findings` takes "today" as a parameter (the service passes the site's local date; tests a fixed
one). `sync` fires one alert per finding (rule id `reg-due-<id>`, `reg-lapsed-<id>` or
`reg-class-<id>`, so the MQTT topic and the de-duplication are the engine's: an open alert is not
notified again) and resolves the register's open alerts whose finding is gone (calibrated, edited).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from metering.register.accuracy import parse_class
from metering.register.model import Entry
from metering.state.store import Store

PREFIX = "reg-"
DEFAULT_DUE_WITHIN_DAYS = 30
Kind = Literal["due", "lapsed", "class"]


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    instrument: str
    kind: Kind
    severity: str
    value: float  # days until due (negative: lapsed since), or the class held
    threshold: float  # the warning window in days, or the class required
    message: str


def rule_id(kind: Kind, instrument: str) -> str:
    # Alert rule ids follow the wire's id pattern (at most 63 characters): long instrument ids are cut.
    return f"{PREFIX}{kind}-{instrument}"[:63]


def findings(entries: list[Entry], today: dt.date, due_within_days: int = DEFAULT_DUE_WITHIN_DAYS) -> list[Finding]:
    """What the register should alert on, as of `today` (pure)."""
    out: list[Finding] = []
    for e in entries:
        due = e.due()
        if due is not None:
            days = (due - today).days
            if days < 0:
                msg = f"{e.id} ({e.name}): calibration lapsed on {due} ({-days} days ago)"
                out.append(Finding(rule_id("lapsed", e.id), e.id, "lapsed", "critical", days, 0, msg))
            elif days <= due_within_days:
                msg = f"{e.id} ({e.name}): calibration due on {due} (in {days} days)"
                out.append(Finding(rule_id("due", e.id), e.id, "due", "warning", days, due_within_days, msg))
        c = e.gb17167()
        if c is not None and c.verdict == "below":
            have, need = parse_class(e.accuracy_class), parse_class(c.required)
            assert have is not None and need is not None
            msg = f"{e.id} ({e.name}): GB 17167-2006 table 3: {c.reason}"
            out.append(Finding(rule_id("class", e.id), e.id, "class", "warning", have[0], need[0], msg))
    return out


Emit = Callable[[dict[str, Any]], None]


def sync(store: Store, site: str, found: list[Finding], emit: Emit, at: dt.datetime) -> dict[str, list[str]]:
    """Fire the new findings, resolve the register's open alerts whose finding is gone; each change is emitted."""
    fired, resolved = [], []
    # A threshold someone named like a register rule keeps its own alerts: the register leaves it alone.
    taken = {t["id"] for t in store.list_thresholds()}
    wanted = {f.rule: f for f in found if f.rule not in taken}
    for f in wanted.values():
        if store.open_alert(f.rule) is None:
            emit(store.fire_alert(f.rule, site, f.severity, f.value, f.threshold, f.message, at))
            fired.append(f.rule)
    for a in store.list_alerts("open", limit=100_000):
        mine = str(a["rule"]).startswith(PREFIX) and a["rule"] not in taken
        if a["site"] == site and mine and a["rule"] not in wanted:
            emit(store.resolve_alert(a["id"], at, a["value"]))
            resolved.append(a["rule"])
    return {"fired": fired, "resolved": resolved}
