"""Every InfluxQL query the platform and its dashboards issue stays inside what both InfluxDB 2.7
and InfluxDB 3 Core serve (issue 16, finding 14): no SLIMIT/SOFFSET, no INTEGRAL, no cardinality."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dashboards.provision import dashboard_docs
from dashboards.validate import queries
from plantcarbon_core.influxql_features import COMMON, NOT_IN_3_CORE, features, outside_common
from plantcarbon_core.plant import load_plant

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("plantcarbon", "plantcarbon_core", "harness", "edge", "ingest", "metering", "dashboards", "simulators")


def _strings(tree: ast.AST) -> list[str]:
    """String literals, f-strings with each placeholder as `x`."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            out.append("".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
    return out


def code_queries() -> dict[str, str]:
    """InfluxQL written in the code (modules that talk InfluxQL), keyed by file:index."""
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            src = path.read_text("utf-8")
            if "influxql" not in src.lower():
                continue  # SQLite (edge outbox) and other SQL are not InfluxQL
            for i, s in enumerate(_strings(ast.parse(src))):
                if re.match(r"\s*(SELECT|SHOW)\s", s):
                    found[f"{path.relative_to(ROOT)}:{i}"] = s
    return found


def dashboard_queries() -> dict[str, str]:
    docs = dashboard_docs(load_plant(ROOT / "examples" / "plant-a.yaml"), ("en", "zh"))
    return {f"{d['uid']} {q.where}": q.query for d in docs for q in queries(d)}


def test_the_features_in_use_are_served_by_influxdb_2_7_and_3_core() -> None:
    in_use: dict[str, set[str]] = {}
    for where, q in {**code_queries(), **dashboard_queries()}.items():
        for f in features(q):
            in_use.setdefault(f, set()).add(where)
    # The collection found the platform's queries (and so can find a bad one).
    assert {"statement SELECT", "statement SHOW TAG VALUES", "function SUM", "function TZ", "clause subquery"} <= set(
        in_use
    )
    outside = {f: sorted(w)[:3] for f, w in in_use.items() if f not in COMMON}
    assert outside == {}, f"InfluxQL outside what 2.7 and 3 Core both serve: {outside}"


@pytest.mark.parametrize(
    ("query", "feature"),
    [
        ('SELECT last("p_kw") FROM "electricity" GROUP BY "device" SLIMIT 10', "clause SLIMIT"),
        ('SELECT last("p_kw") FROM "electricity" GROUP BY "device" SLIMIT 10 SOFFSET 10', "clause SOFFSET"),
        ('SELECT integral("p_kw", 1h) FROM "electricity" WHERE $timeFilter', "function INTEGRAL"),
        ('SELECT sample("p_kw", 3) FROM "electricity"', "function SAMPLE"),
        ("SHOW SERIES CARDINALITY ON raw", "statement SHOW SERIES CARDINALITY"),
        ('SELECT sum("amount") INTO "daily" FROM "energy" GROUP BY time(1d)', "clause INTO"),
    ],
)
def test_a_feature_3_core_lacks_is_caught(query: str, feature: str) -> None:
    assert feature in outside_common(query) and feature in NOT_IN_3_CORE


def test_quoted_names_and_regexes_are_not_mistaken_for_features() -> None:
    q = (
        'SELECT sum("p") FROM (SELECT last("p_kw") AS "p" FROM "electricity" WHERE "site" =~ /^$site$/ '
        'AND "name" = \'count(slimit)\' AND $timeFilter GROUP BY "device") '
        "WHERE time > now() - 5m GROUP BY time(1m) fill(none) tz('Asia/Shanghai') LIMIT 5"
    )
    assert features(q) == {
        "statement SELECT",
        "function SUM",
        "function LAST",
        "function NOW",
        "function TIME",
        "function FILL",
        "function TZ",
        "clause WHERE",
        "clause GROUP BY",
        "clause LIMIT",
        "clause subquery",
        "clause regex match",
    }
    assert outside_common(q) == set()
