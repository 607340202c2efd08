"""A feed's state as the operator sees it: in ``/metrics`` (server counters) and ``GET /api/feeds``.

Counter names (labels in braces, as :mod:`rallypoint.http.common.ops` renders them):
``feed_reports{feed}``, ``feed_errors{feed,reason}``, ``feed_ignored{feed,reason}``,
``feed_connects{feed}``, ``feed_failures{feed,reason}``; and the gauges ``feed_up{feed}`` /
``feed_backoff{feed}``, 1 while the feed is in that state and 0 otherwise, and
``feed_last_report_ms{feed}``, the newest report's arrival time (Unix ms). That one is a
gauge: it is a point in time, not a count, so a rate or a ``_total`` suffix means nothing.
"""

from enum import StrEnum
from typing import Any

from rallypoint.fusion.feeds.decoded import Decoded
from rallypoint.router.stats import Counters


class FeedState(StrEnum):
    """Where a feed's supervisor is."""

    STARTING = "starting"
    """Connecting (or binding, or sending the first request)."""
    UP = "up"
    """Connected and reading (a push feed is always up)."""
    BACKOFF = "backoff"
    """The last session failed; waiting before the next attempt."""
    STOPPED = "stopped"


class FeedHealth:
    """Per-feed numbers, mirrored into the server's counters as they change."""

    def __init__(self, name: str, kind: str, counters: Counters) -> None:
        self.name = name
        self.kind = kind
        self.counters = counters
        self.state = FeedState.STARTING
        self.reports = 0
        self.errors: dict[str, int] = {}
        self.ignored = 0
        self.connects = 0
        self.failures = 0
        self.last_report_ms: int | None = None
        self.last_failure: str | None = None
        self.retry_in_s: float | None = None
        self._label = f"feed={name}"

    def record(self, decoded: Decoded, received_ms: int) -> None:
        """Count what one unit of input produced."""
        if decoded.reports:
            self.reports += len(decoded.reports)
            self.counters.inc(f"feed_reports{{{self._label}}}", len(decoded.reports))
            if received_ms > (self.last_report_ms or 0):
                self.counters.set_gauge(f"feed_last_report_ms{{{self._label}}}", received_ms)
                self.last_report_ms = received_ms
        for reason in decoded.errors:
            self.error(reason)
        for reason in decoded.ignored:
            self.ignored += 1
            self.counters.inc(f"feed_ignored{{{self._label},reason={reason}}}")

    def error(self, reason: str, amount: int = 1) -> None:
        """Malformed input, skipped."""
        if amount <= 0:
            return
        self.errors[reason] = self.errors.get(reason, 0) + amount
        self.counters.inc(f"feed_errors{{{self._label},reason={reason}}}", amount)

    def connected(self) -> None:
        """A session is open and reading."""
        self.connects += 1
        self.counters.inc(f"feed_connects{{{self._label}}}")
        self._enter(FeedState.UP)
        self.retry_in_s = None

    def failed(self, reason: str, retry_in_s: float) -> None:
        """The session ended; the next attempt is ``retry_in_s`` away."""
        self.failures += 1
        self.last_failure = reason
        self.retry_in_s = retry_in_s
        self.counters.inc(f"feed_failures{{{self._label},reason={reason}}}")
        self._enter(FeedState.BACKOFF)

    def retrying(self) -> None:
        """The back-off delay is over: connecting again."""
        self._enter(FeedState.STARTING)

    def stopped(self) -> None:
        """The server is shutting the feed down."""
        self._enter(FeedState.STOPPED)

    def _enter(self, state: FeedState) -> None:
        for flag, name in ((FeedState.UP, "feed_up"), (FeedState.BACKOFF, "feed_backoff")):
            self.counters.set_gauge(f"{name}{{{self._label}}}", 1 if state is flag else 0)
        self.state = state

    def as_json(self) -> dict[str, Any]:
        """The state for ``GET /api/feeds``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state.value,
            "reports": self.reports,
            "errors": dict(self.errors),
            "ignored": self.ignored,
            "connects": self.connects,
            "failures": self.failures,
            "lastFailure": self.last_failure,
            "retryInSeconds": self.retry_in_s,
            "lastReportMs": self.last_report_ms,
        }
