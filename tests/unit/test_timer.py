"""The server's one timer on a manual clock: jobs run when due, a failing job keeps the others."""

import asyncio

from rallypoint.clock import ManualClock
from rallypoint.server.timer import RETRY_AFTER_FAILURE_S, Timer


def test_each_job_runs_when_it_said_it_is_next_due() -> None:
    clock = ManualClock(start=0.0)
    timer = Timer(clock)
    runs: list[tuple[str, float]] = []
    timer.every("often", lambda: 1.0, lambda now: runs.append(("often", now)))
    timer.add("once-in-a-while", lambda now: runs.append(("rare", now)) or now + 3.0, first_due=0.0)

    assert timer.run_due() == 1.0
    clock.advance(1.0)
    assert timer.run_due() == 2.0
    clock.advance(2.0)
    assert timer.run_due() == 4.0
    assert runs == [("rare", 0.0), ("often", 1.0), ("often", 3.0), ("rare", 3.0)]


def test_a_failing_job_is_retried_and_the_others_keep_their_time() -> None:
    clock = ManualClock(start=0.0)
    timer = Timer(clock)
    seen: list[float] = []

    def broken(_now: float) -> float:
        raise RuntimeError("broken job")

    timer.add("broken", broken, first_due=0.0)
    timer.every("fine", lambda: 0.5, seen.append)
    assert timer.run_due() == 0.5
    clock.advance(0.5)
    assert timer.run_due() == RETRY_AFTER_FAILURE_S
    assert seen == [0.5]


async def test_the_timer_task_sleeps_until_the_clock_is_advanced() -> None:
    clock = ManualClock(start=0.0)
    timer = Timer(clock)
    ran = asyncio.Event()
    timer.every("job", lambda: 10.0, lambda _now: ran.set())
    task = asyncio.create_task(timer.run_forever())
    try:
        clock.advance(10.0)
        await asyncio.wait_for(ran.wait(), timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
