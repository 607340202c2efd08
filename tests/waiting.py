"""Waiting for a condition instead of sleeping.

Every wait in the tests either reads until the expected message arrives or polls a condition
through these helpers, bounded by :data:`EVENT_TIMEOUT_S`. The bound is generous on purpose:
a loaded CI machine makes the server slow, never wrong, so only a condition that never comes
true fails a test. No test asserts how long something took.
"""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

EVENT_TIMEOUT_S = 30.0
"""The longest wait for one event or condition (the per-test timeout is 120 s)."""

POLL_INTERVAL_S = 0.01
"""How often a condition without an event of its own is checked again."""


async def eventually(
    condition: Callable[[], object | Awaitable[object]],
    timeout: float = EVENT_TIMEOUT_S,
    what: str = "condition",
) -> None:
    """Poll ``condition`` (a plain or an async callable) until it is true; fail after ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = condition()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(POLL_INTERVAL_S)
    except TimeoutError:
        raise AssertionError(f"{what} still false after {timeout:g} s") from None


def wait_until(
    condition: Callable[[], object], timeout: float = EVENT_TIMEOUT_S, what: str = "condition"
) -> None:
    """:func:`eventually` for synchronous tests (a server in a subprocess)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} still false after {timeout:g} s")
        time.sleep(POLL_INTERVAL_S * 5)
