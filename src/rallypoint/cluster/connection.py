"""The NATS connection of a cluster node or a federation link, made the same way for both.

Both connect at start with a bounded wait (``serve`` refuses to run rather than hang when NATS
is unreachable), then reconnect for ever: a NATS restart must not stop the server, and what is
published meanwhile is buffered by the client or queued by :class:`~rallypoint.cluster.publisher.Publisher`.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import nats.errors
from nats.aio.client import Client

from rallypoint.errors import ConfigError

CONNECT_TIMEOUT_S = 5.0
"""How long ``serve`` tries to reach NATS at start before it refuses to run."""
RECONNECT_WAIT_S = 1
"""Seconds between reconnection attempts (an int: the NATS client declares it so)."""
RECONNECT_BUFFER_BYTES = 64 * 1024 * 1024
"""What the NATS client buffers while it reconnects (beyond it, publishing waits)."""


async def connect(
    servers: Sequence[str],
    name: str,
    *,
    what: str,
    error_cb: Callable[[Exception], Awaitable[None]],
    disconnected_cb: Callable[[], Awaitable[None]],
    reconnected_cb: Callable[[], Awaitable[None]],
) -> Client:
    """A client connected to one of ``servers`` as ``name``, that reconnects for ever.

    :class:`ConfigError` "cannot reach ``what`` at ``servers``" if none answers in
    :data:`CONNECT_TIMEOUT_S`; ``what`` says which NATS it is ("NATS", "the federation NATS").
    """
    nc = Client()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await nc.connect(
                servers=list(servers),
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=RECONNECT_WAIT_S,
                pending_size=RECONNECT_BUFFER_BYTES,
                error_cb=error_cb,
                disconnected_cb=disconnected_cb,
                reconnected_cb=reconnected_cb,
            )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        await nc.close()
        reason = str(exc) or f"no answer in {CONNECT_TIMEOUT_S:g} s"
        raise ConfigError(f"cannot reach {what} at {', '.join(servers)}: {reason}") from exc
    return nc
