"""How many routed events a store records and commits per second (the benchmark's store figure).

Events arrive the way the router produces them: recorded in bursts on the event loop
while the single writer commits earlier ones. The rate covers the first ``record`` to the
final ``flush``, so it is the sustained commit rate, not the queueing rate. It writes into
the store it is given: point it at a scratch file or database.
"""

import asyncio
import time

from rallypoint.store import open_store
from rallypoint.store.base import StoredEvent

BURST = 500
"""Events recorded per loop turn, about what one busy read from a socket routes."""

SAMPLE_XML_BYTES = 600
"""A typical ATAK position report serialised (bytes)."""


def sample_event(number: int, now_ms: int) -> StoredEvent:
    """A position report of one of a thousand devices, shaped like real traffic."""
    uid = f"bench-device-{number % 1000}"
    xml = f'<event version="2.0" uid="{uid}" type="a-f-G-U-C">'.encode().ljust(SAMPLE_XML_BYTES, b" ")
    return StoredEvent(
        uid,
        "a-f-G-U-C",
        now_ms + number,
        now_ms + number + 60_000,
        50.0,
        5.0,
        10.0,
        frozenset({"Cyan"}),
        None,
        xml,
    )


async def measure_store_rate(url: str, events: int) -> float:
    """Record ``events`` into the store at ``url`` as fast as the writer takes them; return events/s."""
    store = open_store(url, queue_max=max(events, 1))
    await store.open()
    try:
        now_ms = time.time_ns() // 1_000_000
        batch = [sample_event(number, now_ms) for number in range(events)]
        started = time.perf_counter()
        for offset in range(0, events, BURST):
            for stored in batch[offset : offset + BURST]:
                store.record(stored)
            await asyncio.sleep(0)
        await store.flush()
        elapsed = time.perf_counter() - started
    finally:
        await store.close()
    return events / elapsed if elapsed > 0 else float("inf")
