"""Real pymodbus server: a known register image read by a pymodbus client and decoded by profile."""

from __future__ import annotations

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.framer import FramerType

from plantcarbon_core.profile import decode_row, encode_row, load_profile

pytestmark = pytest.mark.integration


def sdm630_image(values: dict[str, float]) -> dict[int, int]:
    p = load_profile("eastron-sdm630")
    image: dict[int, int] = {}
    for name, v in values.items():
        row = p.by_name(name)
        for i, w in enumerate(encode_row(p, row, v)):
            image[row.address + i] = w
    return image


@pytest.mark.parametrize("framer", ["socket", "rtu"])
def test_read_known_image_and_decode(modbus_server, framer: str) -> None:
    truth = {"p_kw": 812.4, "v_l1_v": 231.5, "e_imp_kwh": 1234567.0, "f_hz": 50.02}
    server = modbus_server({7: {"input": sdm630_image(truth)}}, framer=framer)
    client = ModbusTcpClient(
        "127.0.0.1", port=server.port, framer=FramerType.SOCKET if framer == "socket" else FramerType.RTU
    )
    assert client.connect()
    p = load_profile("eastron-sdm630")
    got = {}
    for name in truth:
        row = p.by_name(name)
        rr = client.read_input_registers(row.address, count=row.words, device_id=7)
        assert not rr.isError(), rr
        got[name] = decode_row(p, row, rr.registers)
    client.close()
    assert got == pytest.approx(truth, rel=1e-6)
    assert server.writes == 0


def test_unknown_address_answers_exception_02_and_writes_are_refused(modbus_server) -> None:
    server = modbus_server({1: {"holding": {10: 1, 11: 2}}})
    client = ModbusTcpClient("127.0.0.1", port=server.port)
    assert client.connect()
    rr = client.read_holding_registers(12, count=1, device_id=1)
    assert rr.isError() and rr.exception_code == 2
    wr = client.write_register(10, 5, device_id=1)
    assert wr.isError() and server.writes == 1
    assert client.read_holding_registers(10, count=2, device_id=1).registers == [1, 2]
    server.set_words(1, "holding", 10, [7, 8])
    assert client.read_holding_registers(10, count=2, device_id=1).registers == [7, 8]
    client.close()
