"""A fault-injecting TCP proxy on loopback, in user space (for kernels without ``netem``).

Every client connection gets its own upstream connection to the server. Faults apply to
all connections from the moment they are set: ``throttle`` limits server-to-client bytes
per second (the proxy reads upstream no faster, so the server's send queue backs up as on a
thin link), ``stall`` stops forwarding server-to-client until ``resume``, ``reset`` aborts
every connection at both ends, ``cut`` does and refuses new ones until ``restore``. When the
server ends a connection (even killed), what the proxy has already read is still forwarded
before the client's side is closed.

The proxy is a middlebox: bytes its kernel has acknowledged and it has not forwarded are
lost on a reset, exactly as a TCP-terminating middlebox would lose them, and the server
counts them as delivered. Whoever resets it mid-stream measures the proxy, not the server;
reset it when it holds nothing for the client (every message sent through it has arrived).
"""

import asyncio
import contextlib

CHUNK = 1024
"""Bytes forwarded per step: small, so throttling is smooth."""


class FaultProxy:
    """Listens on an ephemeral port of ``host`` and forwards to ``host:target``."""

    def __init__(self, host: str, target: int) -> None:
        self.host = host
        self.target = target
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.bytes_per_s: int | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.refusing = False
        """Set by :meth:`cut`: connections are aborted as they arrive (a link that is down)."""

    async def start(self) -> int:
        """Listen; return the port clients connect to."""
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        return int(self._server.sockets[0].getsockname()[1])

    def throttle(self, bytes_per_s: int | None) -> None:
        self.bytes_per_s = bytes_per_s

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def reset(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()

    def cut(self) -> None:
        """The link goes down: every connection aborted, new ones refused until :meth:`restore`."""
        self.refusing = True
        self.reset()

    def restore(self) -> None:
        self.refusing = False

    async def close(self) -> None:
        self.reset()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target)
        except OSError:  # the server is down (killed, restarting): the client sees a reset
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        downstream = asyncio.create_task(self._pump(up_reader, writer, throttled=True))
        upstream = asyncio.create_task(self._pump(reader, up_writer, throttled=False))
        self._tasks |= {downstream, upstream}
        try:
            await asyncio.wait({downstream, upstream}, return_when=asyncio.FIRST_COMPLETED)
            if downstream.done() and not upstream.done():  # the server ended: the client gets the rest
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        finally:
            for task in (downstream, upstream):
                task.cancel()
                self._tasks.discard(task)
            for end in (writer, up_writer):
                end.transport.abort()
                self._writers.discard(end)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, throttled: bool
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                if throttled:
                    await self._flowing.wait()
                chunk = await reader.read(CHUNK)
                if not chunk:
                    return
                writer.write(chunk)
                await writer.drain()
                if throttled and self.bytes_per_s:
                    await asyncio.sleep(len(chunk) / self.bytes_per_s)  # the fault itself, not a wait
