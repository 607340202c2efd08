"""The load generator's connections: asyncio protocols, all in the caller's event loop.

Receivers do no parsing once the handshake is over: a counter finds message ends and,
once per chunk, the send time of the last message is read back for a latency sample.
Senders write pre-encoded position reports, either as fast as the socket takes them
(stopping on ``pause_writing`` until ``resume_writing``) or on a fixed schedule. Every
send loop stops at its deadline and at its message cap, whichever comes first.
"""

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

from rallypoint.bench.counting import EVENT_END, FENCE_MARKER, FrameCounter, MarkerCounter
from rallypoint.bench.errors import BenchError
from rallypoint.bench.messages import StampedMessage, protocol_request_bytes
from rallypoint.bench.route import Endpoint
from rallypoint.bench.tally import Tally
from rallypoint.cot import types
from rallypoint.cot.negotiation import WireFormat
from rallypoint.cot.xml import parse_event
from rallypoint.errors import ProtocolError

HANDSHAKE_BUFFER_LIMIT = 256 * 1024
"""Bytes held while waiting for a complete control message (replayed events are consumed)."""

FULL_SPEED_BATCH = 32
"""Messages per write when sending flat out: ~16 KiB, then the loop lets receivers run."""

CONNECT_TIMEOUT_S = 10.0
"""Per connection: TCP connect (and TLS handshake), then the server's offer (and, for protobuf,
the switch)."""

CLOSE_TIMEOUT_S = 5.0

ClientT = TypeVar("ClientT", bound="BenchClient")


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch, for the time fields of control messages."""
    return time.time_ns() // 1_000_000


class BenchClient(asyncio.Protocol):
    """One connection: waits for the server's offer (and negotiates protobuf), then counts."""

    def __init__(self, wire_format: WireFormat, *, offered: bool = True) -> None:
        loop = asyncio.get_running_loop()
        self.wire_format = wire_format
        self.offered = offered
        """The server sends a protocol offer first; False counts from the connection's start."""
        self.ready: asyncio.Future[None] = loop.create_future()
        """Done once the server has attached us and the wire format is settled."""
        self.closed: asyncio.Future[None] = loop.create_future()
        self.tally: Tally | None = None
        """Where to count during a phase; None drains without counting."""
        self.error: BenchError | None = None
        self.transport: asyncio.Transport | None = None
        self._handshake = bytearray()
        self._counter: MarkerCounter | FrameCounter = MarkerCounter(EVENT_END)
        self._fences: MarkerCounter | None = None
        self._counting = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's do not subclass asyncio's
        if not self.offered:
            self._start_counting()

    def data_received(self, data: bytes) -> None:
        if not self._counting:
            self._negotiate(data)
            return
        try:
            count = self._counter.feed(data)
        except ProtocolError as exc:
            self._fail(BenchError(f"server sent a broken stream: {exc}"))
            return
        tally = self.tally
        if tally is None:
            return
        tally.add(count, data)
        if tally.fences_expected is not None:  # fences are written only after this is set
            if self._fences is None:
                self._fences = MarkerCounter(FENCE_MARKER)
            tally.add_fences(self._fences.feed(data))

    def count_into(self, tally: Tally | None) -> None:
        """Count what arrives from now on into ``tally`` (None: drain without counting)."""
        self.tally = tally
        self._fences = None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(BenchError(f"server closed the connection during the handshake ({exc})"))
        if not self.closed.done():
            self.closed.set_result(None)

    def _negotiate(self, data: bytes) -> None:
        buffer = self._handshake
        buffer += data
        while not self._counting and self.error is None:
            end = buffer.find(EVENT_END)
            if end < 0:
                if len(buffer) > HANDSHAKE_BUFFER_LIMIT:
                    limit = HANDSHAKE_BUFFER_LIMIT // 1024
                    self._fail(BenchError(f"no complete control message in {limit} KiB"))
                return
            end += len(EVENT_END)
            message = bytes(buffer[:end]).strip()
            del buffer[:end]
            if b"t-x-takp" in message:  # anything else is the server replaying its picture
                self._on_control(message)
        if self.error is not None:
            return
        rest = bytes(buffer)
        buffer.clear()
        if rest:
            self.data_received(rest)

    def _on_control(self, message: bytes) -> None:
        try:
            event = parse_event(message)
        except ProtocolError as exc:
            self._fail(BenchError(f"server sent an unreadable control message: {exc}"))
            return
        if event.type == types.PROTOCOL_OFFER:
            if self.wire_format is WireFormat.XML:
                self._start_counting()
            elif self.transport is not None:
                self.transport.write(protocol_request_bytes(event.uid, wall_clock_ms()))
        elif event.type == types.PROTOCOL_RESPONSE:
            control = event.detail.control if event.detail else None
            if control is None or not control.response_status:
                self._fail(BenchError("server refused TAK protocol v1"))
                return
            self._counter = FrameCounter()
            self._start_counting()

    def _start_counting(self) -> None:
        self._counting = True
        if not self.ready.done():
            self.ready.set_result(None)

    def _fail(self, error: BenchError) -> None:
        self.error = error
        if not self.ready.done():
            self.ready.set_exception(error)
        if self.transport is not None:
            self.transport.abort()


class Sender(BenchClient):
    """A client that also writes its position report, flat out or at a fixed interval."""

    def __init__(
        self, wire_format: WireFormat, message: StampedMessage, fence: bytes, *, offered: bool = True
    ) -> None:
        super().__init__(wire_format, offered=offered)
        self.message = message
        self.fence = fence
        self.sent = 0
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._loop = asyncio.get_running_loop()
        self._paused = False
        self._step_handle: asyncio.Handle | None = None
        self._deadline_handle: asyncio.TimerHandle | None = None
        self._tally: Tally | None = None
        self._max_messages = 0
        self._interval_s: float | None = None
        self._next_at = 0.0

    def start(
        self, deadline: float, max_messages: int, interval_s: float | None, first_at: float, tally: Tally
    ) -> None:
        """Send until loop time ``deadline`` or ``max_messages``; ``interval_s`` None is flat out.

        Sends are added to ``tally``, whose window (if any) holds back a flat-out sender.
        """
        self.sent = 0
        self._tally = tally
        self.done = self._loop.create_future()
        self._max_messages = max_messages
        self._interval_s = interval_s
        self._next_at = first_at
        self._deadline_handle = self._loop.call_at(deadline, self._finish)
        self._schedule()

    def send_fence(self) -> None:
        """Write the fence that closes a phase (buffered by the transport while paused)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.fence)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._step_handle is None and not self.done.done():
            self._schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._finish()

    def _schedule(self) -> None:
        if self._step_handle is not None:
            return  # already due: resume_writing and a freed window can both ask
        if self._interval_s is None:
            self._step_handle = self._loop.call_soon(self._step)
        else:
            self._step_handle = self._loop.call_at(self._next_at, self._step)

    def _step(self) -> None:
        self._step_handle = None
        if self.done.done() or self._paused or self.transport is None:
            return
        remaining = self._max_messages - self.sent
        if remaining <= 0:
            self._finish()
            return
        tally = self._tally
        if self._interval_s is None:
            count = min(FULL_SPEED_BATCH, remaining)
            if tally is not None and tally.window:
                room = tally.room()
                if room <= 0:
                    tally.wait_for_room(self._schedule)
                    return
                count = min(count, room)
            self.transport.write(self.message.render_batch(time.monotonic_ns(), count))
        else:
            count = 1
            self.transport.write(self.message.render(time.monotonic_ns()))
            self._next_at += self._interval_s
        self.sent += count
        if tally is not None:
            tally.sent += count
        if not self._paused:
            self._schedule()

    def _finish(self) -> None:
        for handle in (self._step_handle, self._deadline_handle):
            if handle is not None:
                handle.cancel()
        self._step_handle = self._deadline_handle = None
        if not self.done.done():
            self.done.set_result(self.sent)


async def connect(endpoint: Endpoint, factory: Callable[[], ClientT]) -> ClientT:
    """Open one connection and wait until it is ready to count."""
    loop = asyncio.get_running_loop()
    secure = endpoint.ssl_context is not None
    try:
        _, client = await asyncio.wait_for(
            loop.create_connection(
                factory,
                endpoint.host,
                endpoint.port,
                ssl=endpoint.ssl_context,
                server_hostname=endpoint.server_hostname if secure else None,
                ssl_handshake_timeout=CONNECT_TIMEOUT_S if secure else None,
            ),
            CONNECT_TIMEOUT_S,
        )
    except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
        raise BenchError(f"cannot connect to {endpoint}: {exc or 'timed out'}") from exc
    ready = False
    try:
        await asyncio.wait_for(client.ready, CONNECT_TIMEOUT_S)
        ready = True
    except TimeoutError as exc:
        raise BenchError(f"{endpoint} sent no protocol offer within {CONNECT_TIMEOUT_S:g} s") from exc
    finally:
        if not ready and client.transport is not None:  # timed out, failed, or cancelled
            client.transport.abort()
    return client


async def connect_many(
    dials: Sequence[tuple[Endpoint, Callable[[], ClientT]]], concurrency: int
) -> list[ClientT]:
    """Open one connection per (endpoint, factory), at most ``concurrency`` handshakes at a time."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(endpoint: Endpoint, factory: Callable[[], ClientT]) -> ClientT:
        async with semaphore:
            return await connect(endpoint, factory)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(endpoint, factory)) for endpoint, factory in dials]
    except ExceptionGroup as failures:
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is None:
                _abort(task.result())
        expected, unexpected = failures.split(BenchError)
        if unexpected is not None or expected is None:
            raise
        count = len(expected.exceptions)
        raise BenchError(f"{count} connection(s) failed; first: {expected.exceptions[0]}") from failures
    return [task.result() for task in tasks]


def _abort(client: BenchClient) -> None:
    if client.transport is not None:
        client.transport.abort()


async def close_all(clients: Sequence[BenchClient]) -> None:
    """Close every connection and wait (bounded) until the loop has released them."""
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    pending = [client.closed for client in clients if not client.closed.done()]
    if pending:
        await asyncio.wait(pending, timeout=CLOSE_TIMEOUT_S)
