"""A real pymodbus TCP server with a given register image, on a free port, in a background thread.

The simulators build realistic meters on top of this; tests use it directly for known images.
Framing is Modbus TCP ("socket") or RTU over TCP ("rtu"), as serial gateways speak.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from plantcarbon_core.ports import free_port, port_open, wait_until

Table = Literal["holding", "input", "coil", "discrete"]
# Register image: per unit id, per table, address → word (or 0/1 for coil/discrete).
Image = Mapping[int, Mapping[Table, Mapping[int, int]]]
# A hook a simulator uses to inject faults: (unit, function code, address, count) → an
# exception code to answer with, or None to answer normally. It may sleep to force a timeout.
RequestHook = Callable[[int, int, int, int], Awaitable[ExcCodes | None]]
_TABLE_OF_FC = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}


def _blocks(values: Mapping[int, int], bits: bool) -> list[SimData]:
    """Contiguous runs of addresses as SimData; addresses between runs answer exception 02."""
    out: list[SimData] = []
    run: list[int] = []
    start = -1
    for addr in sorted(values):
        if run and addr != start + len(run):
            out.append(_simdata(start, run, bits))
            run = []
        if not run:
            start = addr
        run.append(values[addr])
    if run:
        out.append(_simdata(start, run, bits))
    if not out:
        # pymodbus wants every block defined: an invalid register answers exception 02
        # (bit blocks cannot be invalid; a lone coil 0 reading False is harmless).
        out.append(
            SimData(0, values=[False], datatype=DataType.BITS)
            if bits
            else SimData(0, count=1, datatype=DataType.INVALID)
        )
    return out


def _simdata(start: int, run: list[int], bits: bool) -> SimData:
    if bits:
        return SimData(start, values=[bool(v) for v in run], datatype=DataType.BITS)
    return SimData(start, values=run, datatype=DataType.REGISTERS)


@dataclass
class ModbusServer:
    """A running server on one port, answering for one or more unit ids (a gateway or RS485 line).

    The live image is `image[unit][table][address]`; `set_words` changes it from any thread and
    the next request sees it. Write requests are refused (exception 01) and counted in `writes`,
    so tests can prove a client never wrote.
    """

    host: str
    port: int
    framer: Literal["socket", "rtu"]
    image: dict[int, dict[str, dict[int, int]]]
    hook: RequestHook | None = None
    requests: int = 0
    writes: int = 0
    _server: ModbusTcpServer | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _error: BaseException | None = field(default=None, repr=False)

    def _device(self, unit: int) -> SimDevice:
        tables = self.image[unit]
        blocks = (
            _blocks(tables.get("coil", {}), bits=True),
            _blocks(tables.get("discrete", {}), bits=True),
            _blocks(tables.get("holding", {}), bits=False),
            _blocks(tables.get("input", {}), bits=False),
        )
        return SimDevice(unit, simdata=blocks, action=functools.partial(self._action, unit))

    async def _action(
        self,
        unit: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests += 1
        if set_values is not None:
            self.writes += 1
            return ExcCodes.ILLEGAL_FUNCTION
        if self.hook is not None and (exc := await self.hook(unit, function_code, address, count)):
            return exc
        table = self.image[unit].get(_TABLE_OF_FC.get(function_code, ""), {})
        if function_code in (3, 4):
            for i in range(address, address + count):
                if i in table:
                    current[i - start_address] = table[i]
        return None

    def start(self) -> ModbusServer:
        ready = threading.Event()
        devices = [self._device(unit) for unit in sorted(self.image)]

        async def serve() -> None:
            # pymodbus servers must be created inside a running event loop.
            self._server = ModbusTcpServer(
                devices,
                framer=FramerType.SOCKET if self.framer == "socket" else FramerType.RTU,
                address=(self.host, self.port),
            )
            ready.set()
            await self._server.serve_forever()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # surfaced to the caller by start()
                self._error = exc
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"modbus-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        wait_until(
            lambda: self._error is not None or port_open(self.host, self.port),
            10,
            f"modbus server :{self.port}",
        )
        if self._error is not None:
            raise RuntimeError(f"modbus server on {self.host}:{self.port} failed: {self._error}")
        return self

    def set_words(self, unit: int, table: Table, address: int, words: list[int]) -> None:
        tab = self.image[unit].setdefault(table, {})
        for i, w in enumerate(words):
            tab[address + i] = w

    def stop(self) -> None:
        if self._server is not None and self._loop is not None and self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
            with contextlib.suppress(Exception):  # a server already gone is stopped
                fut.result(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None

    def __enter__(self) -> ModbusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_modbus_server(
    image: Image,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    framer: Literal["socket", "rtu"] = "socket",
    hook: RequestHook | None = None,
) -> ModbusServer:
    """Serve `image` (unit id → table → address → word) in a background thread until `.stop()`.

    Only the addresses in the image exist: reading others answers exception 02, as a real
    meter does for registers it does not have.
    """
    live = {unit: {str(t): dict(v) for t, v in tables.items()} for unit, tables in image.items()}
    server = ModbusServer(host=host, port=port or free_port(host), framer=framer, image=live, hook=hook)
    return server.start()
