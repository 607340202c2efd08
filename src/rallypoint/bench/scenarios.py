"""Benchmark scenarios: the parameters of one run, the three named presets and their targets.

The presets are the performance goals of the issue, written down once: ``fanout`` (one
sender flat out to ten clients), ``steady`` (a hundred clients, ten senders at 100
messages/s in total) and ``idle`` (ten thousand silent connections held open). Every
parameter can be overridden from the command line; the targets stay those of the preset.
"""

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from rallypoint.bench.errors import BenchError
from rallypoint.cot.negotiation import WireFormat

MAX_CONNECTIONS = 60_000
"""Above what one loopback address can open (about 28 000 ephemeral ports by default)."""

MAX_DURATION_S = 3_600.0
"""Every phase is bounded; an hour is far beyond any useful run."""

DEFAULT_MAX_MESSAGES = 50_000_000
"""Per sender and phase: the count bound on a flat-out sender (minutes at full speed)."""

RATIO_TOLERANCE = 1e-9


class Target(NamedTuple):
    """A pass/fail goal on one reported metric."""

    metric: str
    op: Literal[">=", "<", "=="]
    threshold: float

    def passed(self, value: float | None) -> bool:
        """Whether ``value`` meets the goal; a metric that could not be measured fails."""
        if value is None:
            return False
        if self.op == ">=":
            return value >= self.threshold
        if self.op == "<":
            return value < self.threshold
        return abs(value - self.threshold) <= RATIO_TOLERANCE

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class Scenario:
    """Everything that defines one benchmark run."""

    name: str
    clients: int
    """Connections that only receive; deliveries are counted on these."""
    senders: int = 0
    """Further connections that send position reports (and drain what reaches them)."""
    rate: float = 0.0
    """Messages per second from all senders together; 0 sends as fast as the socket takes them."""
    duration_s: float = 10.0
    """Length of the measured phase (for an idle run: how long connections are held)."""
    warmup_s: float = 1.0
    """Unmeasured load before the measured phase (for an idle run: settling time)."""
    grace_s: float = 30.0
    """After sending stops, the longest wait for messages in flight. The wait ends as soon as
    all have arrived or none has for a second, so it is long only for a server far behind."""
    wire_format: WireFormat = WireFormat.XML
    max_messages: int = DEFAULT_MAX_MESSAGES
    """Per sender and phase, so even a flat-out run is bounded in count as well as time."""
    window: int = 0
    """Flat-out senders keep at most this many messages in flight (sent, not yet received by
    every client); 0 leaves only TCP backpressure, which lets the socket buffers fill."""
    idle: bool = False
    targets: tuple[Target, ...] = ()

    @property
    def connections(self) -> int:
        """Connections the run holds open."""
        return self.clients + self.senders

    def with_overrides(self, **overrides: Any) -> "Scenario":
        """A copy with the non-None ``overrides`` applied, checked."""
        changed = dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})
        changed.check()
        return changed

    def check(self) -> None:
        """Raise :class:`BenchError` for parameters that cannot make a bounded, meaningful run."""
        problems = []
        if not 1 <= self.connections <= MAX_CONNECTIONS:
            problems.append(f"clients + senders must be 1..{MAX_CONNECTIONS}")
        if self.clients < 0 or self.senders < 0:
            problems.append("clients and senders cannot be negative")
        if not self.idle and (self.clients < 1 or self.senders < 1):
            problems.append("a load run needs at least one client and one sender")
        if self.rate < 0:
            problems.append("rate cannot be negative")
        for name, value in (
            ("duration", self.duration_s),
            ("warmup", self.warmup_s),
            ("grace", self.grace_s),
        ):
            if not 0 <= value <= MAX_DURATION_S:
                problems.append(f"{name} must be 0..{MAX_DURATION_S:g} s")
        if self.duration_s <= 0:
            problems.append("duration must be positive")
        if self.max_messages < 1:
            problems.append("max-messages must be at least 1")
        if self.window < 0:
            problems.append("window cannot be negative")
        if problems:
            raise BenchError(f"scenario {self.name}: " + "; ".join(problems))


TLS_RATIO_TARGET = Target("tls_to_plain_ratio", ">=", 0.70)
"""The security issue's goal for ``--compare-tls``: TLS delivers at least 70 % of plain TCP's
messages/s, both measured in the same run against the same server process."""

PRESETS: dict[str, Scenario] = {
    "fanout": Scenario(
        name="fanout",
        clients=10,
        senders=1,
        rate=0.0,
        duration_s=10.0,
        warmup_s=2.0,
        targets=(
            Target("delivered_per_s", ">=", 300_000),
            Target("delivery_ratio", "==", 1.0),
            Target("latency_p99_ms", "<", 100.0),
        ),
    ),
    "steady": Scenario(
        name="steady",
        clients=100,
        senders=10,
        rate=100.0,
        duration_s=10.0,
        warmup_s=1.0,
        targets=(Target("delivery_ratio", "==", 1.0), Target("latency_p99_ms", "<", 20.0)),
    ),
    "idle": Scenario(
        name="idle",
        clients=10_000,
        duration_s=20.0,  # CPU time is counted in 10 ms ticks: 0.05 % resolution over 20 s
        warmup_s=3.0,
        idle=True,
        targets=(Target("rss_per_connection_kib", "<", 20.0), Target("idle_cpu_percent", "<", 0.5)),
    ),
}


def scenario_from_args(args: argparse.Namespace, preset: str | None = None) -> Scenario:
    """The preset named on the command line (or ``preset``) with its overrides applied."""
    return PRESETS[preset or args.scenario].with_overrides(
        clients=args.clients,
        senders=args.senders,
        rate=args.rate,
        duration_s=args.duration,
        warmup_s=args.warmup,
        grace_s=args.grace,
        wire_format=WireFormat(args.format) if args.format else None,
        max_messages=args.max_messages,
        window=args.window,
    )
