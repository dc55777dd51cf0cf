"""Run every query of the generated dashboards against an InfluxDB, the way Grafana would.

For each dashboard: resolve its template variables by running their queries in order (an
include-all variable takes every value, others their current one), then substitute
variables, `$timeFilter` and `$__interval` into each panel and annotation query and run it
on the bucket its datasource names. A query passes when it returns rows holding every column
its SELECT names, not all null, with values plausible for the panel's unit. An annotation,
or a panel whose `noValue` says what no rows mean (e.g. "0 devices offline"), may be empty;
the tests additionally require rows from every query, on data that has alerts and an outage.

Bad input: a query the server refuses, a variable with no values, or an empty result is a
`Check` with a `problem` — never an exception — so one run reports everything at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from dashboards.i18n import TEXTS
from dashboards.interpolate import interpolate, interval_ms, panel_range
from dashboards.validate import Query, queries
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxQLError, InfluxTarget, influxql

Variables = dict[str, tuple[list[str], bool]]


@dataclass(frozen=True)
class Check:
    dashboard: str
    where: str
    query: str  # as sent, after substitution
    rows: int
    problem: str | None = None
    frame: pd.DataFrame | None = None


def expected_columns(query: str) -> list[str]:
    """Columns the outer SELECT yields: its AS aliases, else the function or field names."""
    outer = query[len("SELECT ") : query.index(" FROM ")]
    items, depth, cur = [], 0, ""
    for ch in outer:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    names = []
    for item in items:
        alias = re.search(r'\bAS "([^"]+)"\s*$', item)
        bare = re.match(r'\s*"?([A-Za-z_]+)', item)
        if alias:
            names.append(alias.group(1))
        elif bare:
            names.append(bare.group(1))
    return names


# Power and energy may be negative (PV export through a main meter, a sub-meter remainder that
# meter tolerances push below zero), so only shares are bounded; -1 allows meter noise at zero.
_PLAUSIBLE: dict[str, tuple[float, float]] = {
    "percent": (-1.0, 150.0),
}
# A load factor is sampled power over the rating: a motor's direct-on-line start draws the air-gap
# power of its starting torque for a few seconds, and a one-second sample can catch it. Breakdown
# torque bounds that (IEC 60034-12 design N: at most about 3× rated), so 300 % is physical and
# anything above is a unit or scaling mistake.
LOAD_FACTOR_RANGE = (-1.0, 300.0)
_RANGE_BY_TITLE: dict[str, tuple[float, float]] = {t: LOAD_FACTOR_RANGE for t in TEXTS["p.load_factor"]}


def may_be_empty(q: Query) -> bool:
    """An annotation (no alerts fired) or a panel that says what no rows mean (`noValue`)."""
    if q.where.startswith("annotation"):
        return True
    return (q.panel or {}).get("fieldConfig", {}).get("defaults", {}).get("noValue") is not None


def _check_frame(q: Query, df: pd.DataFrame) -> str | None:
    if df.empty:
        return None if may_be_empty(q) else "no rows"
    if q.where.startswith("variable"):
        return None
    for col in expected_columns(q.query):
        if col not in df.columns:
            return f"no column {col!r} in {list(df.columns)}"
        if not df[col].notna().any():
            return f"column {col!r} is all null"
    unit = (q.panel or {}).get("fieldConfig", {}).get("defaults", {}).get("unit")
    bounds = _RANGE_BY_TITLE.get((q.panel or {}).get("title", "")) or _PLAUSIBLE.get(unit or "")
    if bounds:
        lo, hi = bounds
        numbers = df.select_dtypes("number").drop(columns=["_statement"], errors="ignore").to_numpy().ravel()
        bad = [float(x) for x in numbers if x == x and not lo <= x <= hi]  # x == x skips NaN
        if bad:
            return f"{len(bad)} value(s) outside {lo}..{hi} for unit {unit}, e.g. {bad[0]}"
    return None


class Verifier:
    """Runs one plant's dashboards against `target`; `databases` maps datasource uid → bucket."""

    def __init__(self, target: InfluxTarget, now: datetime, tz: str, databases: Mapping[str, str] | None = None):
        self.target = target
        self.now = now
        self.tz = tz
        self.db = dict(databases or {sc.RAW_DS_UID: target.raw_bucket, sc.METERING_DS_UID: target.metering_bucket})

    def run(self, query: str, ds_uid: str) -> pd.DataFrame:
        return influxql(self.target, query, self.db[ds_uid])

    def variables(self, doc: dict[str, Any]) -> tuple[Variables, list[Check]]:
        out: Variables = {}
        checks: list[Check] = []
        for v in (doc.get("templating") or {}).get("list") or []:
            text = interpolate(v["query"], out)
            try:
                df = self.run(text, v["datasource"]["uid"])
            except InfluxQLError as exc:
                checks.append(Check(doc["uid"], f"variable {v['name']}", text, 0, str(exc)))
                out[v["name"]] = ([], True)
                continue
            options = sorted(df["value"]) if not df.empty else []
            current = v["current"]["value"]
            problem = None if options else "no values"
            if current == "$__all":
                out[v["name"]] = (options, True)
            else:
                if options and current not in options:
                    problem = f"current value {current!r} is not among {options}"
                out[v["name"]] = ([current], bool(v.get("multi")))
            checks.append(Check(doc["uid"], f"variable {v['name']}", text, len(options), problem))
        return out, checks

    def query(self, doc: dict[str, Any], q: Query, variables: Variables) -> Check:
        time_from = (q.panel or {}).get("timeFrom")
        lo, hi = panel_range(doc["time"]["from"], doc["time"]["to"], time_from, self.now, self.tz)
        text = interpolate(q.query, variables, lo, hi, interval_ms(lo, hi))
        if re.search(r"\$[A-Za-z_{]|\[\[", text):
            return Check(doc["uid"], q.where, text, 0, "a variable or macro is left unsubstituted")
        try:
            df = self.run(text, q.datasource_uid)
        except InfluxQLError as exc:
            return Check(doc["uid"], q.where, text, 0, str(exc))
        return Check(doc["uid"], q.where, text, len(df), _check_frame(q, df), df)

    def dashboard(self, doc: dict[str, Any]) -> list[Check]:
        variables, checks = self.variables(doc)
        for q in queries(doc):
            if not q.where.startswith("variable"):
                checks.append(self.query(doc, q, variables))
        return checks


def verify(
    docs: Sequence[dict[str, Any]],
    target: InfluxTarget,
    now: datetime,
    tz: str,
    databases: Mapping[str, str] | None = None,
) -> list[Check]:
    v = Verifier(target, now, tz, databases)
    return [c for doc in docs for c in v.dashboard(doc)]
