"""When the server owes a streaming connection a keepalive of its own (sans-I/O: times are passed in).

TCP keepalive finds a silent half-open link only where the kernel's probes are allowed and
answered by the device itself; ``TCP_USER_TIMEOUT`` fires only while written bytes stay
unacknowledged. A connection on which nothing has crossed in either direction for the
interval is therefore sent a small application message: on a live link it is acknowledged
and discarded, on a dead one it stays unacknowledged and the user timeout ends the
connection, whose mail then goes back to the mailbox. The message is the ``takPong`` shape
(``t-x-c-t-r``): TAK clients' streaming code counts a pong as received traffic and drops it,
so it also spares them their own pings, and no client shows it or routes it.
"""


class PingSchedule:
    """Tracks the last traffic on one connection and says when a keepalive is due."""

    __slots__ = ("_last_traffic", "interval_s")

    def __init__(self, interval_s: float, now: float) -> None:
        self.interval_s = interval_s
        """Silence after which a keepalive is sent; 0 or less: never."""
        self._last_traffic = now

    def traffic(self, now: float) -> None:
        """Bytes were received or written at ``now``."""
        self._last_traffic = max(self._last_traffic, now)

    def due(self, now: float) -> bool:
        """True if the connection has been silent both ways for the interval (then counts as traffic)."""
        if self.interval_s <= 0 or now - self._last_traffic < self.interval_s:
            return False
        self._last_traffic = now
        return True


__all__ = ["PingSchedule"]
