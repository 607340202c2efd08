"""The server's one timer: every periodic duty of the process is a job that says when it is due.

Instead of one sleep loop per duty (tick, identity watch, live feed, ...), each job returns its
next deadline when it runs, and the timer sleeps on the server's :class:`~rallypoint.clock.Clock`
until the earliest one. With a :class:`~rallypoint.clock.ManualClock` a test advances time and
the due jobs run at once, without a real wait.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from rallypoint.clock import Clock

log = logging.getLogger(__name__)

Run = Callable[[float], float]
"""A job: does its work at monotonic time ``now``; returns the time it is next due."""

RETRY_AFTER_FAILURE_S = 1.0
"""A job that raised runs again this much later (its failure is logged, the others go on)."""


@dataclass
class _Job:
    name: str
    run: Run
    due: float


class Timer:
    """Runs each job when it is due, on one task (started and ended by the server)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._jobs: list[_Job] = []

    def add(self, name: str, run: Run, first_due: float) -> None:
        """Run ``run`` at ``first_due`` (monotonic seconds), then whenever it says."""
        self._jobs.append(_Job(name, run, first_due))

    def every(self, name: str, period: Callable[[], float], action: Callable[[float], None]) -> None:
        """Run ``action`` every ``period()`` seconds (read each time, so settings may change it)."""

        def run(now: float) -> float:
            action(now)
            return now + period()

        self.add(name, run, self.clock() + period())

    def run_due(self) -> float | None:
        """Run the jobs that are due now; return the earliest next deadline (None: no jobs)."""
        now = self.clock()
        for job in self._jobs:
            if job.due <= now:
                try:
                    job.due = job.run(now)
                except Exception:  # the outermost boundary of one job: the others keep their time
                    log.exception("timer job %s failed", job.name)
                    job.due = now + RETRY_AFTER_FAILURE_S
        return min((job.due for job in self._jobs), default=None)

    async def run_forever(self) -> None:
        """Sleep until the earliest deadline, run what is due, repeat (until cancelled)."""
        while True:
            wake = self.run_due()
            if wake is None:
                return
            await self.clock.sleep_until(wake)


__all__ = ["Timer"]
