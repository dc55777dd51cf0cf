"""No secret in a repr() (issue 16, finding 13): configs end up in logs and tracebacks.

Every dataclass in the project's packages that has a password, token or secret field keeps it
out of its repr, and every pydantic model types such a field as SecretStr; the configs the
services log are then checked with a marker value.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from pathlib import Path

import pydantic

from edge.publish import BrokerConfig
from ingest.service import IngestConfig
from metering.api.settings import ApiSettings
from plantcarbon_core.influx import InfluxTarget

PACKAGES = ("plantcarbon", "plantcarbon_core", "harness", "edge", "ingest", "metering", "dashboards", "simulators")
SECRET_FIELD = re.compile(r"(^|_)(password|passwords|token|secret|api_key)$")
MARKER = "MARKER-s3cr3t-value-0123456789"


def _classes() -> list[type]:
    root = Path(__file__).resolve().parents[1]
    out: list[type] = []
    for pkg in PACKAGES:
        for info in pkgutil.walk_packages([str(root / pkg)], prefix=f"{pkg}."):
            module = importlib.import_module(info.name)
            out += [c for c in vars(module).values() if isinstance(c, type) and c.__module__ == module.__name__]
    return out


def test_secret_fields_stay_out_of_reprs() -> None:
    classes = _classes()
    assert len(classes) > 50  # the walk found the code
    leaks = []
    for cls in classes:
        if dataclasses.is_dataclass(cls):
            leaks += [
                f"{cls.__module__}.{cls.__name__}.{f.name}"
                for f in dataclasses.fields(cls)
                if SECRET_FIELD.search(f.name) and f.repr
            ]
        elif issubclass(cls, pydantic.BaseModel):
            for name, info in cls.model_fields.items():
                if SECRET_FIELD.search(name) and "SecretStr" not in str(info.annotation):
                    leaks.append(f"{cls.__module__}.{cls.__name__}.{name}")
    assert leaks == []


def test_service_configs_do_not_show_a_secret() -> None:
    target = InfluxTarget(url="http://127.0.0.1:8086", org="o", token=MARKER)
    shown = [
        repr(target),
        repr(BrokerConfig(username="edge-1", password=MARKER)),
        repr(IngestConfig(mqtt_url="mqtt://x:1883", target=target, client_id="i", password=MARKER)),
        repr(ApiSettings(env="development", influx_token=MARKER, mqtt_password=MARKER, bootstrap_admin_key=MARKER)),  # type: ignore[arg-type]
    ]
    for text in shown:
        assert MARKER not in text, text
