"""Jobs run one at a time, in the order queued, on one task the queue owns.

For work that must leave the routing path but keep its order: store-and-forward writes
(:mod:`rallypoint.router.mailbox`), the mission service's journal writes. Queueing never
blocks; the queue is bounded and a refused job is the caller's to count.
"""

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class JobQueue:
    """A bounded FIFO of jobs and the task that runs them.

    A job raising one of ``expected`` is reported to ``on_error`` and the queue goes on; any
    other exception is a bug and ends the task (it is logged by asyncio when the task ends).
    """

    def __init__(
        self,
        name: str,
        limit: int,
        expected: tuple[type[Exception], ...],
        on_error: Callable[[Exception], None],
    ) -> None:
        self._name = name
        self.limit = limit
        self._expected = expected
        self._on_error = on_error
        self._jobs: collections.deque[Job] = collections.deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._jobs)

    def start(self) -> None:
        """Start the task (on the running loop)."""
        self._task = asyncio.create_task(self._run(), name=self._name)

    def put(self, job: Job) -> bool:
        """Queue ``job``; False (and nothing queued) when :attr:`limit` jobs are waiting."""
        if len(self._jobs) >= self.limit:
            return False
        self._jobs.append(job)
        self._idle.clear()
        self._wakeup.set()
        return True

    async def drain(self) -> None:
        """Return once every job queued so far has run."""
        while self._jobs or not self._idle.is_set():
            await self._idle.wait()
            await asyncio.sleep(0)

    async def stop(self) -> None:
        """Run what is queued, then end the task."""
        if self._task is None:
            return
        await self.drain()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._jobs:
                job = self._jobs.popleft()
                try:
                    await job()
                except self._expected as exc:
                    self._on_error(exc)
            self._idle.set()
