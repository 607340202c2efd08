"""Counters and gauges every layer bumps, which the operator reads on ``/metrics`` and in the logs."""

from collections import Counter


class Counters:
    """Named monotonic counters, e.g. ``events_in{transport=tcp}`` or ``dropped{reason=...}``.

    A plain dict of ints: bumping one is a dictionary update, cheap enough for the hot path.
    """

    def __init__(self) -> None:
        self._values: Counter[str] = Counter()
        self._gauges: dict[str, float] = {}

    def inc(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name``."""
        self._values[name] += amount

    def get(self, name: str) -> int:
        """Current value of ``name`` (0 if never bumped)."""
        return self._values[name]

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter, for reporting."""
        return dict(self._values)

    def set_gauge(self, name: str, value: float) -> None:
        """Set the gauge ``name`` (a value that goes up and down: a state, a time) to ``value``."""
        self._gauges[name] = value

    def gauges(self) -> dict[str, float]:
        """A copy of every gauge set so far, for reporting."""
        return dict(self._gauges)
