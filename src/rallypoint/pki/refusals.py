"""Audit refusals of unauthenticated clients without letting a flood write the audit log.

A client that connects and closes at once (or fails its handshake) is refused before anyone
knows who it is, and costs the attacker nothing: 500 of them used to write 500 audit entries.
Per IP address and per window of :data:`DEFAULT_WINDOW_S` seconds, the first
:data:`DEFAULT_FULL_ENTRIES` refusals are audited in full; the rest are only counted, and when
the window has passed one summary entry says how many there were and why. Sans-I/O: the caller
passes the time in and writes what comes back.
"""

from collections import Counter, deque
from typing import NamedTuple

DEFAULT_WINDOW_S = 60.0
"""How long one address's refusals are gathered into one summary."""

DEFAULT_FULL_ENTRIES = 5
"""Refusals per address and window audited in full: enough to see what was tried."""

MAX_ADDRESSES = 10_000
"""Addresses with an open window; past it the oldest windows are summarised early."""


class Summary(NamedTuple):
    """The refusals of one address in one window beyond those audited in full."""

    kind: str
    address: str
    suppressed: int
    reasons: str
    """``reason=count`` pairs, most frequent first."""
    window_start: float
    window_s: float


class _Window:
    __slots__ = ("count", "reasons", "start")

    def __init__(self, start: float) -> None:
        self.start = start
        self.count = 0
        self.reasons: Counter[str] = Counter()


class RefusalSummary:
    """Decides which refusals are audited in full and summarises the rest per address."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S, full_entries: int = DEFAULT_FULL_ENTRIES) -> None:
        self.window_s = window_s
        self.full_entries = full_entries
        self._windows: dict[tuple[str, str], _Window] = {}
        self._order: deque[tuple[str, str]] = deque()
        """Open windows, oldest first."""

    def record(self, kind: str, address: str, reason: str, now: float) -> tuple[bool, list[Summary]]:
        """Count one refusal; return whether to audit it in full, and the windows now closed."""
        closed = self.flush(now)
        key = (kind, address)
        window = self._windows.get(key)
        if window is None:
            if len(self._windows) >= MAX_ADDRESSES:
                closed.extend(self._close(self._order[0]))
            window = self._windows[key] = _Window(now)
            self._order.append(key)
        window.count += 1
        if window.count <= self.full_entries:
            return True, closed
        window.reasons[reason] += 1
        return False, closed

    def flush(self, now: float) -> list[Summary]:
        """Close every window older than :attr:`window_s`; return the summaries worth writing."""
        closed: list[Summary] = []
        while self._order and now - self._windows[self._order[0]].start >= self.window_s:
            closed.extend(self._close(self._order[0]))
        return closed

    def _close(self, key: tuple[str, str]) -> list[Summary]:
        self._order.popleft()
        window = self._windows.pop(key)
        suppressed = window.count - min(window.count, self.full_entries)
        if not suppressed:
            return []
        reasons = ",".join(f"{reason}={count}" for reason, count in window.reasons.most_common())
        return [Summary(key[0], key[1], suppressed, reasons, window.start, self.window_s)]
