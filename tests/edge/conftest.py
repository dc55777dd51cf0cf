"""Edge test helpers: plant builders, register images from profiles, an MQTT collector, an agent runner."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from edge.agent import Agent, AgentOptions
from edge.publish import BrokerConfig
from harness.mosquitto import Mosquitto
from plantcarbon_core.plant import Plant
from plantcarbon_core.profile import MeterProfile, encode_row, load_profile


def modbus_device(dev_id: str, port: int, unit: int = 1, profile: str = "eastron-sdm630", **src: Any) -> dict[str, Any]:
    extra = {k: src.pop(k) for k in ("ratios",) if k in src}
    return {
        "id": dev_id,
        "name": dev_id,
        "kind": "motor",
        "carrier": "electricity",
        "source": {
            "protocol": "modbus-tcp",
            "host": "127.0.0.1",
            "port": port,
            "unit": unit,
            "profile": profile,
            **src,
        },
        **extra,
    }


def make_plant(devices: list[dict[str, Any]], site: str = "plant-t") -> Plant:
    return Plant.model_validate({"site": {"id": site, "name": "Test plant"}, "devices": devices})


def truth_for(profile: MeterProfile, salt: float = 0.0) -> dict[str, float]:
    """A plausible value for every quantity row, inside its min/max, distinct per row."""
    out: dict[str, float] = {}
    for i, r in enumerate(profile.registers):
        if r.quantity is None:
            continue
        lo = r.min if r.min is not None else 0.0
        hi = r.max if r.max is not None else lo + 100_000.0
        if not r.type.startswith("float"):
            # Integer registers hold whole steps of `scale`: pick a representable value.
            bits = 16 * r.words
            raw_lo, raw_hi = (0, 2**bits - 1) if r.type.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            lo, hi = max(lo, raw_lo * r.scale), min(hi, raw_hi * r.scale)
        v = lo + (hi - lo) * ((0.37 + 0.05 * i + salt) % 0.9 + 0.05)
        out[r.quantity] = round(v / r.scale) * r.scale if not r.type.startswith("float") else v
    return out


def image_for(
    profile: MeterProfile, truth: dict[str, float], ct: float = 1.0, pt: float = 1.0, fill_gaps: bool = False
) -> dict[str, dict[int, int]]:
    """The register image a meter holding `truth` would serve, helper registers at exponent 0."""
    tables: dict[str, dict[int, int]] = {}
    for r in profile.registers:
        words = encode_row(profile, r, truth[r.quantity], ct=ct, pt=pt) if r.quantity else [0] * r.words
        t = tables.setdefault(profile.table_of(r), {})
        for i, w in enumerate(words):
            t[r.address + i] = w
    if fill_gaps:
        for t in tables.values():
            for a in range(min(t), max(t)):
                t.setdefault(a, 0)
    return tables


@contextlib.asynccontextmanager
async def running_agent(
    plant: Plant, broker: Mosquitto | BrokerConfig, tmp_path: Path, **opts: Any
) -> AsyncIterator[Agent]:
    cfg = broker if isinstance(broker, BrokerConfig) else BrokerConfig(url=broker.url)
    options = AgentOptions(outbox=opts.pop("outbox", tmp_path / "outbox.sqlite"), summary_s=0, **opts)
    agent = Agent(plant, cfg, options)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


@pytest.fixture
def sdm630() -> MeterProfile:
    return load_profile("eastron-sdm630")
