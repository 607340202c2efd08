"""What the router refused, for the log and the audit log, and how often it is told."""

from collections.abc import Callable
from typing import NamedTuple

from rallypoint.cot.event import Event
from rallypoint.router.registry import Subscriber

REPORT_INTERVAL_MS = 60_000
"""The same refusal (kind, sender, subject) is logged and reported once a minute; counters see all.
A misconfigured device repeating a refused event every few seconds must not fill the logs."""

MAX_REPORTED = 10_000
"""Refusals remembered for :data:`REPORT_INTERVAL_MS`; past it the memory starts afresh."""


class Denial(NamedTuple):
    """An event (or part of one) the router refused, for the audit log."""

    kind: str
    """``spoofing_refused``, ``group_denied`` or ``alert_cancel_refused``."""
    sender: Subscriber
    event: Event
    subject: str
    """The uid or callsign claimed, or the recipient or group addressed."""
    other: str | None
    """The rightful owner, or the identity of the recipient that may not be reached."""


def describe(subscriber: Subscriber) -> str:
    """Who a subscriber is, for log lines and audit entries: its identity, or its address."""
    if subscriber.identity is not None:
        return subscriber.identity
    return f"anonymous {subscriber.transport} {subscriber.address}".rstrip()


class Refusals:
    """Which refusals were reported lately, and who is told about them."""

    def __init__(self, on_denial: Callable[[Denial], None] | None = None) -> None:
        self.on_denial = on_denial
        """Told about refused events (once per :data:`REPORT_INTERVAL_MS` for repeats)."""
        self._reported: dict[tuple[str, int, str], int] = {}

    def first(self, kind: str, sender: Subscriber, subject: str, now_ms: int) -> bool:
        """True unless the same refusal was reported less than :data:`REPORT_INTERVAL_MS` ago."""
        key = (kind, sender.id, subject)
        last = self._reported.get(key)
        if last is not None and now_ms - last < REPORT_INTERVAL_MS:
            return False
        if len(self._reported) >= MAX_REPORTED:
            self._reported.clear()
        self._reported[key] = now_ms
        return True

    def report(self, denial: Denial) -> None:
        """Hand a refusal to the audit log, if one listens."""
        if self.on_denial is not None:
            self.on_denial(denial)
