"""Property-based requests generated from the OpenAPI spec: no input, valid or not, gets a server error.

Schemathesis generates the cases (positive and negative); they are sent through FastAPI's
TestClient because schemathesis' own requests transport breaks under urllib3-future, which
grafana-client's niquests installs over urllib3.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from tests.metering.api.conftest import Api

pytestmark = pytest.mark.integration


def send(api: Api, case: schemathesis.Case, headers: dict[str, str]) -> int:
    kw: dict[str, Any] = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    kw.pop("cookies", None)
    if "data" in kw:
        kw["content"] = kw.pop("data")
    kw["headers"] = {k: v for k, v in kw["headers"].items() if k.lower() not in ("connection", "accept-encoding")}
    return api.client.request(**kw).status_code


def test_no_server_errors(api: Api) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    headers = {"Authorization": f"Bearer {api.keys['admin']}"}
    seen: dict[str, set[int]] = {}
    server_errors: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    for op in operations:
        strategy = st.one_of(
            op.as_strategy(generation_mode=GenerationMode.POSITIVE),
            op.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            # The admin key passes every role check, so generated requests reach the handlers' validation.
            code = send(api, case, headers)
            seen.setdefault(case.operation.label, set()).add(code)
            if code >= 500:
                server_errors.append(case.as_curl_command())

        run()
    assert server_errors == []
    assert set(seen) == {op.label for op in operations}
    # Not all refusals: generated valid requests got through to the handlers.
    assert sum(1 for codes in seen.values() if any(c < 300 for c in codes)) >= 12, seen
