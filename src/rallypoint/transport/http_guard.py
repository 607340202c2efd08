"""Bounds on the connections of one HTTP port, in uvicorn's HTTP/1.1 protocol class.

uvicorn answers 503 to every request once ``limit_concurrency`` connections are open, and a
connection that never sends a request is never timed out (its keep-alive timer starts only
after a first answer). So a few hundred idle sockets from one host would lock every client
out. :class:`ConnectionGuard` keeps three bounds per port:

- at most ``max_per_address`` connections from one client address; more are closed at once;
- a connection must send a complete request head within ``request_timeout_s`` of connecting
  (and of each answer), or it is closed: idle sockets and slowloris heads hold nothing long;
- when the port is full, a new connection takes the place of the oldest one that has not
  sent a request yet, so capacity is kept for new clients rather than for idle ones.

Each refusal is counted (``http_refused{port=…,reason=…}``); the log gets one line per
reason and :data:`REPORT_WINDOW_S`, so a flood does not become a flood of log lines.
"""

import asyncio
import logging
from collections import Counter, OrderedDict
from typing import ClassVar, cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from rallypoint.config import Settings
from rallypoint.router.stats import Counters

log = logging.getLogger(__name__)

REPORT_WINDOW_S = 60.0
"""Refusals of one reason are logged at most once per window (all are counted)."""


class ConnectionGuard:
    """The bookkeeping of one port: open connections per address, and those awaiting a request."""

    def __init__(
        self,
        port: str,
        *,
        max_total: int,
        max_per_address: int,
        request_timeout_s: float,
        counters: Counters,
    ) -> None:
        self.port = port
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.request_timeout_s = request_timeout_s
        self.counters = counters
        self._per_address: Counter[str] = Counter()
        self._waiting: OrderedDict[GuardedProtocol, None] = OrderedDict()
        """Connections with no request under way, oldest first: the ones evicted when full."""
        self._reported_until: dict[str, float] = {}

    @classmethod
    def for_port(cls, port: str, max_total: int, settings: Settings, counters: Counters) -> "ConnectionGuard":
        """The guard of one HTTP port, with the per-address bound and request timeout of ``settings``."""
        return cls(
            port,
            max_total=max_total,
            max_per_address=settings.http_max_connections_per_address,
            request_timeout_s=settings.http_request_timeout_s,
            counters=counters,
        )

    def open_from(self, address: str) -> int:
        """Connections open from ``address`` on this port (for tests and the docs' claims)."""
        return self._per_address[address]

    def admit(self, protocol: "GuardedProtocol", address: str, open_connections: int, now: float) -> bool:
        """Register a new connection, or say False (counted, reported) if it must be closed."""
        if self._per_address[address] >= self.max_per_address:
            self.refuse("per_address", f"{address} already holds {self.max_per_address} connections", now)
            return False
        # Leave one place free below uvicorn's limit, or the newcomer's request would get 503.
        while open_connections >= self.max_total and self._waiting:
            oldest, _ = self._waiting.popitem(last=False)
            self.refuse("evicted", "full: the oldest connection without a request makes room", now)
            oldest.close_idle()
            open_connections -= 1
        self._per_address[address] += 1
        self._waiting[protocol] = None
        return True

    def busy(self, protocol: "GuardedProtocol") -> None:
        """A request has begun on ``protocol``: it is no longer evictable."""
        self._waiting.pop(protocol, None)

    def idle(self, protocol: "GuardedProtocol") -> None:
        """``protocol`` answered and waits for its next request (evictable again)."""
        self._waiting[protocol] = None

    def release(self, protocol: "GuardedProtocol", address: str) -> None:
        """The connection closed."""
        self._waiting.pop(protocol, None)
        self._per_address[address] -= 1
        if self._per_address[address] <= 0:
            del self._per_address[address]

    def refuse(self, reason: str, detail: str, now: float) -> None:
        """Count a refusal; log it unless this reason was already logged in the window."""
        self.counters.inc(f"http_refused{{port={self.port},reason={reason}}}")
        if now >= self._reported_until.get(reason, float("-inf")):
            self._reported_until[reason] = now + REPORT_WINDOW_S
            log.warning(
                "HTTP port %s: connection closed (%s): %s; further ones this minute are only counted",
                self.port,
                reason,
                detail,
            )


class GuardedProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol under a :class:`ConnectionGuard` (see :func:`guarded`)."""

    guard: ClassVar[ConnectionGuard]
    _address: str | None = None
    _deadline: asyncio.TimerHandle | None = None
    _armed_for: object = None
    """The request cycle current when the deadline was armed: a newer one means a request came."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        if not self.guard.admit(self, address, len(self.connections), self.loop.time()):
            transport.abort()
            return
        self._address = address
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address is not None:
            self.guard.release(self, self._address)
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and self.cycle is not self._armed_for:
            self._disarm()
            self.guard.busy(self)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        """The socket becomes a WebSocket (a session's live feed): it leaves this guard's count."""
        self._disarm()
        if self._address is not None:
            self.guard.release(self, self._address)
            self._address = None
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self.guard.idle(self)
            self._arm()

    def close_idle(self) -> None:
        """Close a connection that holds no request (evicted to make room)."""
        self._disarm()
        self.transport.abort()

    def _arm(self) -> None:
        self._disarm()
        self._armed_for = self.cycle
        self._deadline = self.loop.call_later(self.guard.request_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or (self.cycle is not self._armed_for):
            return
        detail = f"{self._address} sent no complete request in {self.guard.request_timeout_s:g} s"
        self.guard.refuse("request_timeout", detail, self.loop.time())
        self.transport.abort()


def guarded(guard: ConnectionGuard, base: type[H11Protocol] = H11Protocol) -> type[H11Protocol]:
    """A protocol class for ``uvicorn.Config(http=…)``: ``base`` under ``guard``."""
    name = f"Guarded{base.__name__}"
    return cast(type[H11Protocol], type(name, (GuardedProtocol, base), {"guard": guard}))
