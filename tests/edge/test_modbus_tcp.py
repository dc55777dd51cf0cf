"""The lean Modbus TCP client against a scripted loopback server: ids matched, late answers dropped, losses named."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.framer import FramerSocket, FramerType
from pymodbus.pdu import DecodePDU, ExceptionResponse
from pymodbus.pdu.register_message import ReadInputRegistersRequest, ReadInputRegistersResponse

from edge.modbus import _BRIEF_RESPONSES
from edge.modbus_tcp import LeanTcpClient

# What the scripted server does with the n-th request (0-based): a list of frames to send back
# (possibly none), or None to close the connection.
Script = Callable[[int, ReadInputRegistersRequest], list[bytes] | None]

_FRAMER = FramerSocket(DecodePDU(is_server=True))


def answer(
    request: ReadInputRegistersRequest, registers: list[int], tid: int | None = None, dev_id: int | None = None
) -> bytes:
    pdu = ReadInputRegistersResponse(
        registers=registers,
        dev_id=request.dev_id if dev_id is None else dev_id,
        transaction_id=request.transaction_id if tid is None else tid,
    )
    return _FRAMER.buildFrame(pdu)


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Script], asyncio.AbstractServer]]:
    servers: list[asyncio.AbstractServer] = []
    seen = 0

    async def serve(script: Script) -> asyncio.AbstractServer:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal seen
            buf = b""
            while True:
                data = await reader.read(1024)
                if not data:
                    break
                buf += data
                used, request = _FRAMER.handleFrame(buf, 0, 0)
                buf = buf[used:]
                if request is None:
                    continue
                assert isinstance(request, ReadInputRegistersRequest)
                frames = script(seen, request)
                seen += 1
                if frames is None:
                    writer.close()
                    return
                for frame in frames:
                    writer.write(frame)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return server

    yield serve  # type: ignore[misc]
    for s in servers:
        s.close()


def _port(server: asyncio.AbstractServer) -> int:
    return int(server.sockets[0].getsockname()[1])


def _request(address: int = 0, count: int = 2, unit: int = 7) -> ReadInputRegistersRequest:
    return ReadInputRegistersRequest(address=address, count=count, dev_id=unit)


async def test_answers_are_matched_by_transaction_and_device_id(scripted) -> None:
    held: list[bytes] = []

    def script(n: int, req: ReadInputRegistersRequest) -> list[bytes] | None:
        if n == 0:  # no answer now: it comes late, in front of the next request's answer
            held.append(answer(req, [1, 1]))
            return []
        # a stale frame, one for another unit, then the right one
        return [held.pop(), answer(req, [9, 9], dev_id=8), answer(req, [req.address, 42])]

    server = await scripted(script)
    client = LeanTcpClient("127.0.0.1", _port(server), FramerType.SOCKET, timeout_s=5.0)
    assert await client.connect()
    with pytest.raises(ModbusIOException):
        await client.execute(False, _request(), timeout_s=0.2)
    assert client.connected  # one timeout does not drop the connection
    rr = await client.execute(False, _request(address=3))
    assert list(rr.registers) == [3, 42]
    assert rr.dev_id == 7
    client.close()


async def test_exception_answer_and_lost_connection(scripted) -> None:
    def script(n: int, req: ReadInputRegistersRequest) -> list[bytes] | None:
        if n == 0:
            exc = ExceptionResponse(req.function_code, 2, device_id=req.dev_id, transaction=req.transaction_id)
            return [_FRAMER.buildFrame(exc)]
        if n == 1:
            return None  # the meter drops the connection
        return [answer(req, [5, 6])]

    server = await scripted(script)
    client = LeanTcpClient("127.0.0.1", _port(server), FramerType.SOCKET, timeout_s=5.0)
    assert await client.connect()
    rr = await client.execute(False, _request())
    assert rr.isError() and rr.exception_code == 2
    with pytest.raises(ConnectionException):
        await client.execute(False, _request())
    assert not client.connected
    with pytest.raises(ConnectionException):
        await client.execute(False, _request())  # no silent reconnect: the Link decides
    assert await client.connect()
    assert list((await client.execute(False, _request())).registers) == [5, 6]
    client.close()


async def test_the_fifth_timeout_in_a_row_drops_the_connection(scripted) -> None:
    server = await scripted(lambda n, req: [])
    client = LeanTcpClient("127.0.0.1", _port(server), FramerType.SOCKET, timeout_s=0.05)
    assert await client.connect()
    for _ in range(4):
        with pytest.raises(ModbusIOException):
            await client.execute(False, _request())
        assert client.connected
    with pytest.raises(ModbusIOException):
        await client.execute(False, _request())
    assert not client.connected


async def test_nobody_listening_is_no_connection() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = _port(server)
    server.close()
    await server.wait_closed()
    assert not await LeanTcpClient("127.0.0.1", port, FramerType.SOCKET, timeout_s=1.0).connect()


def test_brief_register_responses_decode_as_pymodbus_does() -> None:
    brief = next(c for c in _BRIEF_RESPONSES if c.function_code == 4)
    rng = random.Random(19)
    for byte_count in (2, 3, 4, 79, 80, 250):
        data = bytes([byte_count]) + rng.randbytes(byte_count + rng.choice((0, 1, 5)))
        ours, theirs = brief(), ReadInputRegistersResponse()
        ours.decode(data)
        theirs.decode(data)
        assert list(ours.registers) == list(theirs.registers) and len(ours.registers) == byte_count // 2
    with pytest.raises(ModbusIOException):
        brief().decode(bytes([80]) + bytes(10))  # byte count beyond the packet: refused as pymodbus does
