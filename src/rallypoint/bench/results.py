"""What one benchmark run measured: deliveries, latency, the connect phase, the server's usage.

Frozen values with the derived figures the report and the targets use; no I/O.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rallypoint.bench.scenarios import Scenario


@dataclass(frozen=True)
class Latency:
    """Delivery latency from the sampled messages of the measured phase."""

    samples: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @classmethod
    def from_samples(cls, samples_ns: Sequence[int]) -> "Latency":
        """Nearest-rank percentiles of ``samples_ns``."""
        ordered = sorted(samples_ns)

        def rank(percent: float) -> float | None:
            if not ordered:
                return None
            return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] / 1e6

        return cls(len(ordered), rank(50), rank(95), rank(99))


@dataclass(frozen=True)
class ConnectPhase:
    """Opening every connection of a run: from the first connect until the last one was let in
    (the server's protocol offer arrived, so over TLS both sides had checked certificates)."""

    connections: int
    seconds: float
    generator_cpu_s: float
    """CPU time the load generator spent meanwhile (over TLS: its half of every handshake)."""
    server_cpu_s: float | None = None
    """CPU time the server spent meanwhile (pid known)."""

    @property
    def per_s(self) -> float | None:
        """Connections established per second."""
        return self.connections / self.seconds if self.seconds > 0 else None

    @property
    def server_ms_each(self) -> float | None:
        """Server CPU per connection, in milliseconds."""
        if self.server_cpu_s is None or not self.connections:
            return None
        return 1000.0 * self.server_cpu_s / self.connections

    @property
    def server_capacity_per_s(self) -> float | None:
        """Connections per second one server core could establish at this cost."""
        each = self.server_ms_each
        return 1000.0 / each if each else None

    @property
    def server_cpu_percent(self) -> float | None:
        """Server CPU over the phase, as a percentage of one core."""
        if self.server_cpu_s is None or self.seconds <= 0:
            return None
        return 100.0 * self.server_cpu_s / self.seconds

    @property
    def generator_cpu_percent(self) -> float | None:
        """Load generator CPU over the phase, as a percentage of one core (near 100: it is the limit)."""
        return 100.0 * self.generator_cpu_s / self.seconds if self.seconds > 0 else None


@dataclass(frozen=True)
class ServerUsage:
    """The server process seen from ``/proc`` during the run."""

    rss_before_kib: int
    """Before the bench connected."""
    rss_connected_kib: int
    """With every bench connection open, before any load."""
    rss_after_kib: int
    """At the end of the measured phase, connections still open."""
    connections: int
    cpu_percent: float
    """Load run: CPU time of the measured phase over its span from first send to last delivery
    (the server has nothing to do once the last delivery is out). Idle run: the whole run."""
    idle_cpu_percent: float | None = None
    """Idle run only: while the connections were held and silent."""

    @property
    def rss_per_connection_kib(self) -> float:
        """Memory the connections added, per connection."""
        return (self.rss_connected_kib - self.rss_before_kib) / self.connections


@dataclass(frozen=True)
class BenchResult:
    """Everything one run measured."""

    scenario: Scenario
    address: str
    sent: int
    expected: int
    """Deliveries a perfect server would make: sent x clients."""
    received: int
    elapsed_s: float
    """From the first send of the measured phase to the last delivery (or the end of waiting)."""
    latency: Latency
    connections_lost: int
    """Bench connections the server closed before the end."""
    connect: ConnectPhase
    server: ServerUsage | None
    settled: bool = True
    """False when the grace period ended before every fence arrived: the ratio understates."""
    tls: bool = False
    """Every connection was mutual TLS."""
    generator_cpu_percent: float | None = None
    """The load generator's own CPU over the measured phase (load runs): near 100 % it is the limit."""

    @property
    def connect_s(self) -> float:
        """Time to open every connection and finish its handshake."""
        return self.connect.seconds

    @property
    def delivered_per_s(self) -> float | None:
        """Messages received by all clients together, per second."""
        return self.received / self.elapsed_s if self.elapsed_s > 0 and not self.scenario.idle else None

    @property
    def delivery_ratio(self) -> float | None:
        """Received over expected (1.0 when nothing was lost or replaced)."""
        return self.received / self.expected if self.expected else None

    @property
    def handshakes_per_s(self) -> float | None:
        """TLS runs: connections established per second during the connect phase."""
        return self.connect.per_s if self.tls else None

    def metrics(self) -> dict[str, float | None]:
        """The values targets are checked against, by name."""
        server = self.server
        return {
            "delivered_per_s": self.delivered_per_s,
            "delivery_ratio": self.delivery_ratio,
            "handshakes_per_s": self.handshakes_per_s,
            "latency_p50_ms": self.latency.p50_ms,
            "latency_p95_ms": self.latency.p95_ms,
            "latency_p99_ms": self.latency.p99_ms,
            "rss_per_connection_kib": server.rss_per_connection_kib if server else None,
            "cpu_percent": server.cpu_percent if server else None,
            "idle_cpu_percent": server.idle_cpu_percent if server else None,
        }
