"""Helpers for simulator tests: tiny scenarios built in code, and a profile-decoding Modbus reader."""

from __future__ import annotations

from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.framer import FramerType

from plantcarbon_core.profile import Bad, MeterProfile, decode_row, load_profile
from simulators.scenario import Endpoint, Scenario, parse_scenario

SITE = {"id": "t-site", "name": "Test site", "timezone": "Asia/Shanghai"}


def scenario(devices: list[dict[str, Any]], **extra: Any) -> Scenario:
    import yaml

    doc = {"id": "t", "seed": 3, "site": SITE, "gateways": [{"id": "gw-s"}, {"id": "gw-r", "framer": "rtu"}]}
    doc |= {"devices": devices} | extra
    return parse_scenario(yaml.safe_dump(doc, sort_keys=False), "test.yaml")


def client_for(ep: Endpoint) -> ModbusTcpClient:
    framer = FramerType.SOCKET if ep.framer == "socket" else FramerType.RTU
    client = ModbusTcpClient(ep.host, port=ep.port, framer=framer, timeout=1, retries=0)
    assert client.connect()
    return client


def read_words(client: ModbusTcpClient, table: str, address: int, count: int, unit: int) -> Any:
    if table == "input":
        return client.read_input_registers(address, count=count, device_id=unit)
    return client.read_holding_registers(address, count=count, device_id=unit)


def read_profile(
    client: ModbusTcpClient, profile: MeterProfile | str, unit: int, ct: float = 1.0, pt: float = 1.0
) -> dict[str, float | Bad]:
    """Read every register of the profile one by one and decode it as the edge would."""
    p = load_profile(profile) if isinstance(profile, str) else profile
    helpers: dict[str, int] = {}
    for r in p.registers:
        if r.id:
            rr = read_words(client, p.table_of(r), r.address, r.words, unit)
            assert not rr.isError(), (r.id, rr)
            helpers[r.id] = int(decode_row(p, r, rr.registers))  # type: ignore[arg-type]
    out: dict[str, float | Bad] = {}
    for r in p.registers:
        if r.quantity is None:
            continue
        rr = read_words(client, p.table_of(r), r.address, r.words, unit)
        assert not rr.isError(), (r.quantity, rr)
        exp = helpers.get(r.scale_factor, 0) if r.scale_factor else 0
        out[r.quantity] = decode_row(p, r, rr.registers, scale_exp=exp, ct=ct, pt=pt)
    return out
