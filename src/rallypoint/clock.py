"""The process's clock: one object, passed in, so that tests move time on instead of waiting.

Protocol code takes ``now`` as an argument (DESIGN.md); the few places that read the time (the
server's one timer, connection timers, login throttles) read it from a :class:`Clock` they were
given. :class:`SystemClock` is the real one; :class:`ManualClock` stands still until a test
advances it, and then wakes whatever sleeps on it, so a deadline is reached without a real wait.
"""

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds (calling it), wall-clock milliseconds, and a sleep that honours both."""

    def __call__(self) -> float:
        """Monotonic seconds: timers and deadlines."""

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch: the time written into CoT events."""

    async def sleep_until(self, deadline: float) -> None:
        """Return once the monotonic time has reached ``deadline`` (at once if it has)."""


class SystemClock:
    """The machine's clocks."""

    def __call__(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class ManualClock:
    """A clock that moves only when :meth:`advance` is called; wall time moves with it."""

    def __init__(self, start: float = 1_000.0, wall_ms: int | None = None) -> None:
        self.now = start
        self._start = start
        self._wall_start_ms = time.time_ns() // 1_000_000 if wall_ms is None else wall_ms
        self._moved = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    def wall_ms(self) -> int:
        return self._wall_start_ms + round((self.now - self._start) * 1000)

    def advance(self, seconds: float) -> None:
        """Move time on by ``seconds`` and wake every sleeper, which then checks its deadline."""
        self.now += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def sleep_until(self, deadline: float) -> None:
        while self.now < deadline:
            await self._moved.wait()


__all__ = ["Clock", "ManualClock", "SystemClock"]
