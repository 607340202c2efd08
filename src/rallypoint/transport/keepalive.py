"""Socket options that let the kernel find half-open streaming connections.

A device that walks out of coverage sends no FIN or RST: without help the server keeps its
socket, keeps writing into it and never returns its messages to the mailbox. TCP keepalive
with short timers ends a silent connection, and ``TCP_USER_TIMEOUT`` ends one whose written
data stays unacknowledged, each within a bounded time (see the ``tcp_*`` settings). The
connection then closes as usual and what was not acknowledged is kept again.
"""

import socket
from typing import Protocol

from rallypoint.config import Settings


class _Options(Protocol):
    """What is needed of a socket (asyncio hands out a ``TransportSocket``, not a ``socket``)."""

    @property
    def family(self) -> int: ...

    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...


def tune_stream_socket(sock: _Options, settings: Settings) -> None:
    """No Nagle delay, short keepalive timers and a user timeout on a TCP socket (others: nothing)."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", settings.tcp_keepalive_idle_s),
        ("TCP_KEEPINTVL", settings.tcp_keepalive_interval_s),
        ("TCP_KEEPCNT", settings.tcp_keepalive_probes),
        ("TCP_USER_TIMEOUT", round(settings.tcp_user_timeout_s * 1000)),
    ):
        option = getattr(socket, name, None)  # Linux names; absent elsewhere, then the defaults hold
        if option is not None and value > 0:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)
