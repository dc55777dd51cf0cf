"""Modbus sources: one client per link (TCP endpoint or serial port), read-only.

A TCP link's client is `edge.modbus_tcp.LeanTcpClient` (pymodbus' framer and PDU classes, one
request outstanding); a serial port's is pymodbus' `AsyncModbusSerialClient`.

A link carries one request at a time: devices behind one RS-485 line or one serial gateway
take turns — the agent polls a link from one task only, and a second poll started while one
is under way is refused (a bug, not a wait: no lock to take on every poll). The agent only
ever sends function codes 01, 02, 03 and 04 (`REQUESTS` is the complete list of requests
it builds); it has no code path that writes.

Bad input: a meter may not answer (timeout), answer an exception code, answer fewer words
than asked, or drop the connection. Each becomes a `Bad` answer for the block with a short
reason ("timeout", "exception 02 illegal data address", "short answer", "no connection");
nothing raises out of `Link.read`. A merged block refused with exception 02 (a gap the meter
does not implement) is re-planned register by register for that device, logged once.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import (
    ReadCoilsRequest,
    ReadCoilsResponse,
    ReadDiscreteInputsRequest,
    ReadDiscreteInputsResponse,
)
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    ReadInputRegistersResponse,
)

from edge.modbus_tcp import LeanTcpClient
from edge.plan import Block, apply_workarounds, plan_reads
from edge.values import Answer, Decoder, implausible_counters
from plantcarbon_core.plant import Device, ModbusRtuSource, ModbusTcpSource, Workarounds
from plantcarbon_core.profile import Bad, MeterProfile
from plantcarbon_core.quantities import is_counter
from plantcarbon_core.wire import Sample

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}
# Reasons that mean "the device did not talk to us", as opposed to "it answered, but…".
UNREACHABLE = ("timeout", "no connection", "connection lost", "exception 0B gateway target failed to respond")

LinkKey = tuple[str, ...]


def link_key(src: ModbusTcpSource | ModbusRtuSource) -> LinkKey:
    if isinstance(src, ModbusTcpSource):
        return ("tcp", src.host, str(src.port), src.framer)
    return ("serial", src.serial_port)


ModbusClient = LeanTcpClient | AsyncModbusSerialClient

# Read-only by construction: the only requests the agent ever sends (function codes 01–04).
REQUESTS: dict[int, type[ModbusPDU]] = {
    1: ReadCoilsRequest,
    2: ReadDiscreteInputsRequest,
    3: ReadHoldingRegistersRequest,
    4: ReadInputRegistersRequest,
}


def _brief(pdu: ModbusPDU) -> str:
    return f"{type(pdu).__name__}(dev_id={pdu.dev_id}, transaction_id={pdu.transaction_id}, count={pdu.count})"


def _decode_registers(pdu: ModbusPDU, data: bytes) -> None:
    """pymodbus' register response decode (same check, same registers) in one unpack instead
    of one per register: a fifth of a poll's decoding."""
    if (data_len := int(data[0])) >= len(data):
        raise ModbusIOException(
            f"byte_count {data_len} > length of packet {len(data)}", function_code=pdu.function_code
        )
    n = data_len // 2
    pdu.registers = list(struct.unpack_from(f">{n}H", data, 1))


# pymodbus formats every decoded response for a debug line even when debug logging is off
# (`str(pdu)` with all its registers: a twentieth of a poll's CPU). The same responses with a
# short text (and registers unpacked at once), registered through the client's public
# `register`: framing and PDU semantics are pymodbus' own.
_BRIEF_RESPONSES: list[type[ModbusPDU]] = [
    type(f"Brief{cls.__name__}", (cls,), {"__str__": _brief}) for cls in (ReadCoilsResponse, ReadDiscreteInputsResponse)
] + [
    type(f"Brief{cls.__name__}", (cls,), {"__str__": _brief, "decode": _decode_registers})
    for cls in (ReadHoldingRegistersResponse, ReadInputRegistersResponse)
]


def make_client(src: ModbusTcpSource | ModbusRtuSource, timeout_s: float) -> ModbusClient:
    client = _make_client(src, timeout_s)
    for cls in _BRIEF_RESPONSES:
        client.register(cls)
    return client


def _make_client(src: ModbusTcpSource | ModbusRtuSource, timeout_s: float) -> ModbusClient:
    # retries=0: a failed request is reported at once; the scheduler's back-off decides when
    # to try again, so one dead meter costs one timeout, not (1 + retries) of them.
    # TCP: pymodbus' framer and PDUs without its transaction manager (edge/modbus_tcp.py).
    if isinstance(src, ModbusTcpSource):
        return LeanTcpClient(
            src.host, src.port, FramerType.SOCKET if src.framer == "socket" else FramerType.RTU, timeout_s
        )
    return AsyncModbusSerialClient(
        src.serial_port,
        framer=FramerType.RTU,
        baudrate=src.baudrate,
        parity=src.parity,
        stopbits=src.stopbits,
        bytesize=src.bytesize,
        timeout=timeout_s,
        retries=0,
        reconnect_delay=0,
    )


class Link:
    """One connection (TCP endpoint or serial port); `busy` while a device's poll is on it."""

    def __init__(self, key: LinkKey, client: ModbusClient):
        self.key = key
        self.client = client
        self.timeout_s = (
            client.timeout_s if isinstance(client, LeanTcpClient) else float(client.comm_params.timeout_connect or 0.0)
        )
        self.busy = False

    @property
    def name(self) -> str:
        return ":".join(self.key[1:])

    async def _ensure_connected(self, timeout_s: float) -> bool:
        if self.client.connected:
            return True
        try:
            return bool(await asyncio.wait_for(self.client.connect(), timeout_s))
        except (TimeoutError, OSError, ModbusException):
            return False

    async def read(self, unit: int, block: Block, timeout_s: float) -> Answer:
        """One request; the caller holds `lock`. Never raises for device or link trouble."""
        if not self.client.connected and not await self._ensure_connected(timeout_s):
            return Bad("no connection")
        pdu = REQUESTS[block.function_code](address=block.start, count=block.count, dev_id=unit)
        client = self.client
        try:
            if isinstance(client, LeanTcpClient):
                rr = await client.execute(False, pdu, None if timeout_s >= self.timeout_s else timeout_s)
            else:
                # pymodbus applies the link's timeout itself; only a device with a shorter one
                # needs a second timer (it costs a timer handle per request).
                request = client.execute(False, pdu)
                rr = await (request if timeout_s >= self.timeout_s else asyncio.wait_for(request, timeout_s))
        except (TimeoutError, ModbusIOException):
            return Bad("timeout")
        except ConnectionException:
            return Bad("connection lost")
        except ModbusException as exc:
            return Bad(f"modbus error: {exc}"[:120])
        if rr.isError():
            code = int(getattr(rr, "exception_code", 0) or 0)
            return Bad(f"exception {code:02X} {EXCEPTION_NAMES.get(code, 'unknown')}")
        if block.function_code in (1, 2):
            bits = list(rr.bits or [])
            if len(bits) < block.count:
                return Bad("short answer")
            return [int(b) for b in bits[: block.count]]
        regs = list(rr.registers or [])
        if len(regs) != block.count:
            return Bad(f"short answer ({len(regs)} of {block.count} registers)")
        return regs

    def close(self) -> None:
        self.client.close()


@dataclass
class PollResult:
    sample: Sample | None  # None when the device did not answer at all
    error: str | None  # why the device is unreachable, when sample is None
    requests: int
    reasons: dict[str, int] = field(default_factory=dict)  # bad reason → how many rows


@dataclass
class ModbusDevice:
    """A device's profile as it speaks it, its read plan and how to reach it."""

    device: Device
    profile: MeterProfile
    blocks: list[Block]
    decoder: Decoder
    counted: dict[str, float] = field(default_factory=dict)  # each counter's last reading > 0
    counters: tuple[str, ...] = ()  # the counter quantities of the profile

    def __post_init__(self) -> None:
        src = self.device.source
        assert isinstance(src, ModbusTcpSource | ModbusRtuSource)
        self._source = src  # read on every poll: checked once here
        self.counters = tuple(
            sorted({r.quantity for r in self.profile.registers if r.quantity and is_counter(r.quantity)})
        )

    @classmethod
    def build(cls, device: Device, profile: MeterProfile) -> ModbusDevice:
        src = device.source
        assert isinstance(src, ModbusTcpSource | ModbusRtuSource)
        spoken = apply_workarounds(profile, src.workarounds)
        return cls(device, spoken, plan_reads(spoken, src.workarounds), Decoder(spoken, device.ratios))

    @property
    def source(self) -> ModbusTcpSource | ModbusRtuSource:
        return self._source

    async def poll(self, link: Link) -> PollResult:
        """Read every block once, in turn on the link, and decode. Stamped when the read began."""
        src = self.source
        ts = int(time.time() * 1000)
        answers: dict[Block, Answer] = {}
        requests = 0
        if link.busy:
            raise RuntimeError(f"link {link.name} is already polling a device")
        link.busy = True
        try:
            i = 0
            while i < len(self.blocks):
                block = self.blocks[i]
                if i and src.workarounds.pause_between_requests_ms:
                    await asyncio.sleep(src.workarounds.pause_between_requests_ms / 1000)
                answer = await link.read(src.unit, block, src.timeout_s)
                requests += 1
                if isinstance(answer, Bad) and answer.reason.startswith("exception 02") and len(block.rows) > 1:
                    self._split(i, block)
                    continue  # read the same place again, register by register
                answers[block] = answer
                if isinstance(answer, Bad) and answer.reason in UNREACHABLE:
                    # The device is not talking: do not spend a timeout on every block.
                    return PollResult(None, answer.reason, requests)
                i += 1
        finally:
            link.busy = False
        values, bad = self.decoder.decode(answers)
        for q, reason in implausible_counters(values, self.counted, self.counters).items():
            del values[q]
            bad[q] = reason
        for q in self.counters:
            v = values.get(q, 0.0)
            if v > 0.0:
                self.counted[q] = v
        reasons: dict[str, int] = {}
        for reason in bad.values():
            reasons[reason] = reasons.get(reason, 0) + 1
        if not values and not bad:
            return PollResult(None, "no registers", requests)
        return PollResult(Sample(ts=ts, values=values, bad=bad), None, requests, reasons)

    def _split(self, i: int, block: Block) -> None:
        log.warning(
            "device %s: %s registers %d..%d answered exception 02 as one read; reading them without gaps",
            self.device.id,
            block.table,
            block.start,
            block.start + block.count - 1,
        )
        bits = block.table in ("coil", "discrete")
        filled = block.count - sum(1 if bits else r.words for r in block.rows)
        if filled > 0:
            # First drop only the gaps: contiguous rows stay one read.
            wk = Workarounds(max_registers_per_request=min(block.count, 125), max_gap_fill=0)
            self.blocks[i : i + 1] = plan_reads(self.profile, wk, list(block.rows))
        else:
            self.blocks[i : i + 1] = [Block(block.table, r.address, 1 if bits else r.words, (r,)) for r in block.rows]
