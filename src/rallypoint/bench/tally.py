"""What the receivers of one phase got: counts, latency samples, fences, the send window.

One :class:`Tally` is shared by every client of a phase, so recording a chunk is a few
integer updates and, once per chunk, one latency sample.
"""

import asyncio
import time
from collections.abc import Callable

from rallypoint.bench.counting import last_stamp

MAX_LATENCY_SAMPLES = 2_000_000
"""Samples kept per phase: about one per received chunk, so minutes of the heaviest load."""


class Tally:
    """What the counting receivers got during one phase, shared by all of them.

    A phase ends with one fence message per sender. The server keeps each sender's
    order, so once every client has seen every fence, all of the phase's messages have
    arrived or were dropped: nothing of this phase can leak into the next one.

    The tally also keeps the optional window of flat-out senders: without one, a sender
    fills the kernel's socket buffers and latency measures their size, not the server.
    """

    __slots__ = (
        "_waiting",
        "clients",
        "fenced",
        "fences",
        "fences_expected",
        "last_arrival_ns",
        "received",
        "samples_ns",
        "sent",
        "window",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, clients: int = 1, window: int = 0) -> None:
        self.clients = clients
        self.window = window
        """Most messages in flight (sent, not yet at every client); 0: no limit."""
        self.sent = 0
        self._waiting: list[Callable[[], None]] = []
        self.received = 0
        """Complete messages, fences included."""
        self.samples_ns: list[int] = []
        self.last_arrival_ns = 0
        self.fences = 0
        self.fences_expected: int | None = None
        """None until the senders have finished and write their fences."""
        self.fenced: asyncio.Future[None] = loop.create_future()

    @property
    def delivered(self) -> int:
        """Messages of the phase received, fences not counted."""
        return self.received - self.fences

    def add(self, count: int, data: bytes) -> None:
        """Record one received chunk holding ``count`` complete messages."""
        if not count:
            return
        now = time.monotonic_ns()
        self.received += count
        self.last_arrival_ns = now
        stamp = last_stamp(data)
        if stamp is not None and len(self.samples_ns) < MAX_LATENCY_SAMPLES:
            self.samples_ns.append(now - stamp)
        if self._waiting and self.room() >= max(1, self.window // 2):
            waiting, self._waiting = self._waiting, []
            for wake in waiting:
                wake()

    def room(self) -> int:
        """How many more messages the window lets senders write now."""
        return self.window - (self.sent - self.received // self.clients)

    def wait_for_room(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` once deliveries have freed half the window."""
        self._waiting.append(wake)

    def expect_fences(self, count: int) -> None:
        """Start watching for fences; ``fenced`` is done when ``count`` have arrived."""
        self.fences_expected = count
        self.add_fences(0)

    def add_fences(self, count: int) -> None:
        """Record fences seen by one client."""
        self.fences += count
        if (
            self.fences_expected is not None
            and self.fences >= self.fences_expected
            and not self.fenced.done()
        ):
            self.fenced.set_result(None)
