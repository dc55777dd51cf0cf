"""The InfluxQL features a query uses, and the subset that both InfluxDB 2.7 and InfluxDB 3 Core serve.

Why: Docker's `influxdb:latest` is InfluxDB 3 Core, whose InfluxQL lacks SLIMIT, SOFFSET,
cardinality metaqueries and some functions (INTEGRAL, SAMPLE, the technical-analysis ones).
Every query the platform and its dashboards issue stays inside the common subset, so either
server works; tests/plantcarbon_core/test_influxql_features.py checks each query against it.

Sources (InfluxData documentation, read 2026-12): "InfluxQL feature support" for InfluxDB 3
Core (in-progress: SLIMIT, SOFFSET, cardinality metaqueries) and its function reference
(aggregates COUNT, DISTINCT, MEAN, MEDIAN, MODE, SPREAD, STDDEV, SUM; selectors BOTTOM, FIRST,
LAST, MAX, MIN, PERCENTILE, TOP); "Time and time zones" for 3 Core (time(), tz(), now()).
Everything listed is also InfluxQL 1.x as served by 2.7.
"""

from __future__ import annotations

import re

# Functions, clauses and statements both servers serve. Only what the sources above list:
# a feature that is not here must be checked against them before a query may use it.
COMMON: frozenset[str] = frozenset(
    {f"function {f}" for f in ("COUNT", "DISTINCT", "MEAN", "MEDIAN", "MODE", "SPREAD", "STDDEV", "SUM")}
    | {f"function {f}" for f in ("BOTTOM", "FIRST", "LAST", "MAX", "MIN", "PERCENTILE", "TOP")}
    | {"function TIME", "function TZ", "function FILL", "function NOW"}
    | {"statement SELECT", "statement SHOW MEASUREMENTS", "statement SHOW TAG KEYS"}
    | {"statement SHOW TAG VALUES", "statement SHOW FIELD KEYS"}
    | {"clause WHERE", "clause GROUP BY", "clause ORDER BY", "clause LIMIT", "clause OFFSET"}
    | {"clause subquery", "clause regex match", "clause wildcard"}
)

# Known to be missing from InfluxDB 3 Core (named here so a failure says why).
NOT_IN_3_CORE: frozenset[str] = frozenset(
    {"clause SLIMIT", "clause SOFFSET", "clause INTO"}
    | {f"function {f}" for f in ("INTEGRAL", "SAMPLE", "HOLT_WINTERS", "HOLT_WINTERS_WITH_FIT")}
    | {"statement SHOW SERIES CARDINALITY", "statement SHOW MEASUREMENT CARDINALITY"}
    | {"statement SHOW TAG KEY CARDINALITY", "statement SHOW TAG VALUES CARDINALITY"}
    | {"statement SHOW FIELD KEY CARDINALITY"}
)

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_REGEX = re.compile(r"=~\s*/(?:[^/\\]|\\.)*/|!~\s*/(?:[^/\\]|\\.)*/")
_VARIABLE = re.compile(r"\$\{?\w+\}?")  # Grafana variables ($timeFilter, ${site}, $__interval)
_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_KEYWORDS = {"FROM", "AND", "OR", "NOT", "WHERE", "IN", "BY", "AS", "SELECT", "ON"}
_SHOW = re.compile(r"^\s*SHOW\s+((?:[A-Z]+\s+)*?[A-Z]+)(?=\s+(?:FROM|WITH|ON|WHERE|LIMIT)\b|\s*$)", re.I)
_CLAUSES = {
    "clause WHERE": r"\bWHERE\b",
    "clause GROUP BY": r"\bGROUP\s+BY\b",
    "clause ORDER BY": r"\bORDER\s+BY\b",
    "clause LIMIT": r"(?<!S)\bLIMIT\b",
    "clause OFFSET": r"(?<!S)\bOFFSET\b",
    "clause SLIMIT": r"\bSLIMIT\b",
    "clause SOFFSET": r"\bSOFFSET\b",
    "clause INTO": r"\bINTO\b",
    "clause subquery": r"\bFROM\s*\(",
    "clause wildcard": r"\(\s*\*\s*\)|SELECT\s+\*",
}


def features(query: str) -> set[str]:
    """The statement, functions and clauses `query` uses, e.g. {'statement SELECT', 'function SUM'}."""
    regexes = bool(_REGEX.search(query))
    bare = _VARIABLE.sub("x", _REGEX.sub("= x", _QUOTED.sub("x", query)))
    out: set[str] = set()
    show = _SHOW.match(bare)
    if show:
        out.add("statement SHOW " + " ".join(show.group(1).upper().split()))
    elif re.match(r"^\s*SELECT\b", bare, re.I):
        out.add("statement SELECT")
    else:
        out.add("statement " + (bare.split() or ["(empty)"])[0].upper())
    out |= {f"function {m.upper()}" for m in _CALL.findall(bare) if m.upper() not in _KEYWORDS}
    out |= {name for name, rx in _CLAUSES.items() if re.search(rx, bare, re.I)}
    if regexes:
        out.add("clause regex match")
    return out


def outside_common(query: str) -> set[str]:
    """The features of `query` that InfluxDB 2.7 and 3 Core do not both serve (empty: fine)."""
    return features(query) - COMMON
