"""A lean Modbus TCP client: pymodbus' framer and PDU classes over one asyncio Protocol, one request at a time.

Why not pymodbus' own async client: its transaction manager takes an asyncio lock, makes a
future and a `wait_for` timer task per request and logs through several layers — a third of
the edge's CPU per poll, although the edge never has more than one request outstanding on a
link (the agent serialises them). This client keeps what matters from pymodbus — frames are
built and parsed by its framer (`FramerSocket` or `FramerRTU` for a serial gateway over
TCP), requests and responses are its PDU classes decoded by its `DecodePDU` — and does the
bookkeeping of a single outstanding request itself: one future per request, and one loop
timer for every client's timeouts (`_Deadlines`, as `edge.ticker` does for the schedule: a
loop `TimerHandle` per request costs its creation, Python-level comparisons in the loop's
heap and a cancel — with a thousand links, more than the request's own framing).

It behaves as the pymodbus client does with `retries=0`: the transaction id (MBAP) and the
device id must match, a frame that does not is skipped; no answer within the timeout raises
`ModbusIOException`; a lost connection fails the request with `ConnectionException`; after
`retries + 3` consecutive timeouts plus one (pymodbus' count) the connection is dropped, so
the next request reconnects. The receive buffer is emptied before each request and capped at
the framer's largest frame, as pymodbus does.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import weakref

from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerRTU, FramerSocket, FramerType
from pymodbus.pdu import DecodePDU, ModbusPDU

# pymodbus (retries=0) closes a TCP connection when a request times out with its countdown
# already below zero: the countdown starts at retries + 3 and drops by one per timeout.
_TIMEOUTS_BEFORE_CLOSE = 4
# Timeouts due within this much of each other fire together: a request's timeout may end up to
# this late, and the shared timer fires at most about 1 / _SLACK_S times a second.
_SLACK_S = 0.02


class _Deadlines:
    """Every client's request deadline in one heap of plain tuples (compared in C), with one
    loop timer armed for the earliest. An answered request's entry stays until its time comes
    and is then skipped (it names the request by number, holding no future)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = self._loop = loop
        self._heap: list[tuple[float, int, LeanTcpClient, int]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def add(self, when: float, client: LeanTcpClient, request_no: int) -> None:
        heapq.heappush(self._heap, (when, next(self._order), client, request_no))
        if when + _SLACK_S < self._armed_at:
            if self._timer is not None:
                self._timer.cancel()
            self._armed_at = when + _SLACK_S
            self._timer = self._loop.call_at(self._armed_at, self._fire)

    def _fire(self) -> None:
        self._timer, self._armed_at = None, math.inf
        now = self._loop.time()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, client, request_no = heapq.heappop(heap)
            client._timed_out(request_no)
        if heap:
            self._armed_at = max(heap[0][0], now) + _SLACK_S
            self._timer = self._loop.call_at(self._armed_at, self._fire)


_DEADLINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = weakref.WeakKeyDictionary()


def _deadlines(loop: asyncio.AbstractEventLoop) -> _Deadlines:
    found = _DEADLINES.get(loop)
    if found is None:
        found = _DEADLINES[loop] = _Deadlines(loop)
    return found


class _Connection(asyncio.Protocol):
    """One TCP connection's events, handed to its client while it is the client's current one
    (a connection dropped after timeouts may report its end after the next one opened)."""

    def __init__(self, client: LeanTcpClient):
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.client._conn is self:
            self.client._lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.client._conn is self:
            self.client._received(data)


class LeanTcpClient:
    """One TCP connection to a Modbus server or gateway; `execute` sends a request and awaits its answer."""

    def __init__(self, host: str, port: int, framer: FramerType, timeout_s: float):
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.decoder = DecodePDU(is_server=False)
        self.framer = (FramerRTU if framer == FramerType.RTU else FramerSocket)(self.decoder)
        self._rtu = framer == FramerType.RTU
        self._conn: _Connection | None = None
        self._buf = b""
        self._waiter: asyncio.Future[ModbusPDU] | None = None
        self._dev_id = 0
        self._tid = 0
        self._timeouts = 0
        self._request_no = 0  # the outstanding request's number, for its deadline
        self._deadlines: _Deadlines | None = None  # the running loop's, looked up once

    # --- the interface the edge's Link uses -------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def register(self, cls: type[ModbusPDU]) -> None:
        """A custom response class, as pymodbus' client `register` does."""
        self.decoder.register(cls)

    async def connect(self) -> bool:
        if self._conn is not None:
            return True
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(self), self.host, self.port), self.timeout_s
            )
        except (TimeoutError, OSError):
            return False
        if conn.transport is None:  # closed again before we got here
            return False
        self._conn = conn
        self._buf = b""
        self._timeouts = 0
        self._tid = 0
        return True

    def close(self) -> None:
        self._drop()
        self._fail(ConnectionException(f"connection to {self.host}:{self.port} closed"))

    async def execute(
        self, no_response_expected: bool, request: ModbusPDU, timeout_s: float | None = None
    ) -> ModbusPDU:
        """Send `request` and return its response PDU (an `ExceptionResponse` for a Modbus exception).

        Raises ModbusIOException on timeout, ConnectionException when there is or stays no connection."""
        conn = self._conn
        transport = None if conn is None else conn.transport
        if transport is None:
            raise ConnectionException(f"not connected to {self.host}:{self.port}")
        if self._waiter is not None:
            raise RuntimeError(f"{self.host}:{self.port}: a request is already outstanding")
        # RTU frames carry no transaction id (pymodbus sends 0 then); MBAP ids run 1..65000.
        self._tid = 0 if self._rtu else (self._tid % 65000) + 1
        request.transaction_id = self._tid
        self._dev_id = request.dev_id
        self._buf = b""
        transport.write(self.framer.buildFrame(request))
        if no_response_expected:
            return None  # type: ignore[return-value]  # as pymodbus does
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self._request_no += 1
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not loop:
            deadlines = self._deadlines = _deadlines(loop)
        deadlines.add(loop.time() + (self.timeout_s if timeout_s is None else timeout_s), self, self._request_no)
        try:
            response = await waiter
        finally:
            self._waiter = None
        self._timeouts = 0
        return response

    # --- the current connection's events ------------------------------------------------------

    def _lost(self, exc: Exception | None) -> None:
        self._conn = None
        self._buf = b""
        self._fail(ConnectionException(f"connection to {self.host}:{self.port} lost: {exc or 'closed by peer'}"))

    def _received(self, data: bytes) -> None:
        buf = self._buf + data
        if len(buf) > self.framer.MAX_SIZE:  # garbage, not a frame: drop it, as pymodbus does
            self._buf = b""
            return
        try:
            used, pdu = self.framer.handleFrame(buf, self._dev_id, self._tid)
        except ModbusException as exc:  # a frame pymodbus cannot decode
            self._buf = b""
            self._fail(exc)
            return
        self._buf = buf[used:]
        waiter = self._waiter
        if pdu is not None and waiter is not None and not waiter.done():
            waiter.set_result(pdu)
        # An answer without an outstanding request (one that came after its timeout) is dropped.

    # --- internals --------------------------------------------------------------------------

    def _timed_out(self, request_no: int) -> None:
        waiter = self._waiter
        if request_no != self._request_no or waiter is None or waiter.done():
            return  # answered (or failed) in time
        self._timeouts += 1
        waiter.set_exception(ModbusIOException(f"no answer from {self.host}:{self.port} within the timeout"))
        if self._timeouts > _TIMEOUTS_BEFORE_CLOSE:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            with contextlib.suppress(Exception):
                conn.transport.close()

    def _fail(self, exc: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
