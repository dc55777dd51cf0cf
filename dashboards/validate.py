"""Check a generated dashboard: SDK round trip with no unknown fields, unique ids, datasources that resolve.

`problems(doc, datasource_uids)` returns one line per mistake (empty when the dashboard is
good); `queries(doc)` lists every InfluxQL text a dashboard runs — panel targets, the
annotation and the template variables — for running them against a real InfluxDB.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as dm

from dashboards.influxql import InfluxAnnotation, register


def to_json(model: Any) -> dict[str, Any]:
    """An SDK model as plain JSON data, exactly as it is written to a file."""
    data: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    return data


def read_back(doc: dict[str, Any]) -> dm.Dashboard:
    """Decode with the SDK's own types (panel options, field config, our InfluxQL targets)."""
    register_default_plugins()
    register()
    board = dm.Dashboard.from_json(doc)
    annotations = (doc.get("annotations") or {}).get("list") or []
    if board.annotations is not None:
        board.annotations.list_val = [
            InfluxAnnotation.from_json(a)
            if (a.get("datasource") or {}).get("type") == "influxdb"
            else dm.AnnotationQuery.from_json(a)
            for a in annotations
        ]
    return board


def _diff(a: Any, b: Any, path: str) -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                yield f"{path}.{k}: lost in the SDK round trip (unknown to the schema)"
            elif k not in a:
                yield f"{path}.{k}: added by the SDK round trip"
            else:
                yield from _diff(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} items became {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            yield from _diff(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: {a!r} became {b!r}"


def _panels(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in doc.get("panels") or []:
        yield p
        yield from p.get("panels") or []  # panels inside collapsed rows


def problems(doc: dict[str, Any], datasource_uids: set[str]) -> list[str]:
    uid = doc.get("uid", "?")
    out: list[str] = []
    try:
        again = to_json(read_back(doc))
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{uid}: the SDK cannot read it back: {exc}"]
    out += [f"{uid}: {line}" for line in _diff(doc, again, "$")]
    seen: dict[int, str] = {}
    for p in _panels(doc):
        pid, title = p.get("id"), p.get("title", "")
        if not isinstance(pid, int):
            out.append(f"{uid}: panel {title!r} has no numeric id")
        elif pid in seen:
            out.append(f"{uid}: panel id {pid} used by {seen[pid]!r} and {title!r}")
        else:
            seen[pid] = title
        refs = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets") or []]
        for ref in refs:
            if p.get("type") == "row" and ref is None:
                continue
            if not ref or ref.get("uid") not in datasource_uids:
                out.append(f"{uid}: panel {title!r}: datasource {ref!r} is not provisioned")
        if p.get("type") != "row" and not p.get("targets"):
            out.append(f"{uid}: panel {title!r} has no query")
    for v in (doc.get("templating") or {}).get("list") or []:
        ref = v.get("datasource")
        if v.get("type") == "query" and (not ref or ref.get("uid") not in datasource_uids):
            out.append(f"{uid}: variable {v.get('name')!r}: datasource {ref!r} is not provisioned")
    for a in (doc.get("annotations") or {}).get("list") or []:
        ref = a.get("datasource") or {}
        if ref.get("uid") not in datasource_uids:
            out.append(f"{uid}: annotation {a.get('name')!r}: datasource {ref!r} is not provisioned")
    return out


@dataclass(frozen=True)
class Query:
    """One InfluxQL text a dashboard runs, where it sits, and on which datasource."""

    where: str  # "panel 3 'Site power' A", "variable device", "annotation Alerts"
    datasource_uid: str
    query: str
    result_format: str
    panel: dict[str, Any] | None = None


def queries(doc: dict[str, Any]) -> list[Query]:
    out: list[Query] = []
    for v in (doc.get("templating") or {}).get("list") or []:
        if v.get("type") == "query":
            out.append(Query(f"variable {v['name']}", v["datasource"]["uid"], v["query"], "table"))
    for a in (doc.get("annotations") or {}).get("list") or []:
        target = a.get("target") or {}
        if "query" in target:
            out.append(Query(f"annotation {a['name']}", a["datasource"]["uid"], target["query"], "table"))
    for p in _panels(doc):
        for t in p.get("targets") or []:
            where = f"panel {p['id']} {p.get('title', '')!r} {t.get('refId')}"
            out.append(Query(where, t["datasource"]["uid"], t["query"], t.get("resultFormat", "time_series"), p))
    return out
