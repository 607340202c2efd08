"""An owned set of asyncio tasks: whoever starts a task through it also ends it.

A bare ``asyncio.create_task`` leaves a task nobody cancels or awaits (and whose failure
nobody sees). Each long-lived part of the server keeps its tasks in one :class:`TaskSet` and
calls :meth:`TaskSet.stop` when it stops, so that shutdown leaves no task running.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class TaskSet:
    """Tasks owned by one object; a task that fails is logged when it ends, not lost."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine[Any, Any, T], name: str) -> "asyncio.Task[T]":
        """Run ``coroutine`` as a task owned by this set."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s failed", self._owner, task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        """Cancel every task and wait until all have ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["TaskSet"]
