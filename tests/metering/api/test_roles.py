"""Role × route matrix: every route refuses the roles below its own and lets the others through."""

from __future__ import annotations

from typing import Any

import pytest

from metering.state.store import ROLES
from tests.metering.api.conftest import Api

pytestmark = pytest.mark.integration

R = {"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-02T02:00:00+08:00"}
RULE = {"id": "r-{role}", "site": "plant-a", "device": "tr-01", "quantity": "p_kw", "threshold": 100}
DR = {"id": "dr-{role}", "site": "plant-a", "start": R["start"], "end": R["end"], "target_kw": 100}

# (method, path, query, body, the lowest role allowed)
ROUTES: list[tuple[str, str, dict[str, str], dict[str, Any] | None, str]] = [
    ("GET", "/api/v1/plant", {}, None, "viewer"),
    ("GET", "/api/v1/plant/devices", {}, None, "viewer"),
    ("GET", "/api/v1/plant/devices/{device}", {}, None, "viewer"),
    ("GET", "/api/v1/energy", R, None, "viewer"),
    ("GET", "/api/v1/emissions", R, None, "viewer"),
    ("GET", "/api/v1/demand", R, None, "viewer"),
    ("GET", "/api/v1/live", {}, None, "viewer"),
    ("GET", "/api/v1/me", {}, None, "viewer"),
    ("GET", "/api/v1/reports/carbon", {"period": "2026-03"}, None, "viewer"),
    ("GET", "/api/v1/dr/events", {}, None, "viewer"),
    ("GET", "/api/v1/dr/events/{dr}", {}, None, "viewer"),
    ("GET", "/api/v1/dr/events/{dr}/report", {}, None, "viewer"),
    ("POST", "/api/v1/dr/events", {}, DR, "energy_manager"),
    ("GET", "/api/v1/thresholds", {}, None, "viewer"),
    ("GET", "/api/v1/thresholds/{rule}", {}, None, "viewer"),
    ("POST", "/api/v1/thresholds", {}, RULE, "energy_manager"),
    (
        "PUT",
        "/api/v1/thresholds/{rule}",
        {},
        {"id": "{rule}", **{k: v for k, v in RULE.items() if k != "id"}},
        "energy_manager",
    ),
    ("DELETE", "/api/v1/thresholds/{rule}", {}, None, "energy_manager"),
    ("GET", "/api/v1/alerts", {}, None, "viewer"),
    ("GET", "/api/v1/alerts/{alert}", {}, None, "viewer"),
    ("POST", "/api/v1/alerts/{alert}/acknowledge", {}, None, "operator"),
    ("GET", "/api/v1/audit", {}, None, "energy_manager"),
    ("GET", "/api/v1/keys", {}, None, "admin"),
    ("POST", "/api/v1/keys", {}, {"name": "k-{role}", "role": "viewer"}, "admin"),
    ("DELETE", "/api/v1/keys/{key}", {}, None, "admin"),
]


def _fill(x: Any, values: dict[str, str]) -> Any:
    if isinstance(x, str):
        return x.format(**values)
    if isinstance(x, dict):
        return {k: _fill(v, values) for k, v in x.items()}
    return x


def test_the_matrix_covers_every_route(api: Api) -> None:
    paths = api.app.openapi()["paths"]
    declared = {(m.upper(), p) for p, ops in paths.items() if p.startswith("/api/") for m in ops}
    names = {
        "{device}": "{device_id}",
        "{dr}": "{event_id}",
        "{rule}": "{rule_id}",
        "{alert}": "{alert_id}",
        "{key}": "{name}",
    }
    listed = set()
    for m, p, *_ in ROUTES:
        for short, long in names.items():
            p = p.replace(short, long)
        listed.add((m, p))
    assert declared == listed


@pytest.mark.parametrize("role", [None, "bad-key", *ROLES])
def test_role_route_matrix(api: Api, role: str | None) -> None:
    from datetime import UTC, datetime

    rank = -1 if role in (None, "bad-key") else ROLES.index(role)  # type: ignore[arg-type]
    headers = {"Authorization": "Bearer pc_not-a-real-key"} if role == "bad-key" else api.as_(role)
    tag = (role or "anon").replace("_", "-")
    # Things the routes act on, made fresh for this role so a success never hides behind a 404.
    api.store.create_dr_event(
        {
            "id": f"dr0-{tag}",
            "site": "plant-a",
            "start": datetime(2026, 3, 2, tzinfo=UTC),
            "end": datetime(2026, 3, 2, 1, tzinfo=UTC),
            "target_kw": 1.0,
            "note": "",
        },
        "seed",
    )
    api.store.create_threshold({**RULE, "id": f"t-{tag}"}, "seed")
    alert = api.store.fire_alert(f"t-{tag}", "plant-a", "warning", 1.0, 1.0, "m", datetime.now(UTC))
    api.store.create_key(f"victim-{tag}", "viewer")
    values = {
        "device": "tr-01",
        "role": tag,
        "dr": f"dr0-{tag}",
        "rule": f"t-{tag}",
        "alert": str(alert["id"]),
        "key": f"victim-{tag}",
    }
    failures = []
    for method, path, query, body, minimum in ROUTES:
        r = api.client.request(method, _fill(path, values), params=query, json=_fill(body, values), headers=headers)
        if rank < 0:
            expected_ok, want = False, 401
        else:
            expected_ok, want = rank >= ROLES.index(minimum), 403  # type: ignore[arg-type]
        if expected_ok and r.status_code >= 400:
            failures.append(f"{method} {path}: {role} should pass, got {r.status_code} {r.text[:200]}")
        if not expected_ok and r.status_code != want:
            failures.append(f"{method} {path}: {role} should get {want}, got {r.status_code}")
        if r.status_code == 403:
            assert f"this needs role '{minimum}'" in r.json()["detail"]
    assert failures == []
