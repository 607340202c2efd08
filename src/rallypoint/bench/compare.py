"""Plain TCP against mutual TLS, back to back on one server: the issue's TLS fan-out target.

One server process listens on both ports, and the same scenario runs over plain TCP, then
TLS, then plain TCP again; the TLS rate is compared with the mean of the two plain runs.
On a small, noisy machine (two cores shared by the server and the load generator) a
drift during the runs, such as the machine warming up, another process waking or the
server's caches growing, then weighs on both sides alike instead of all landing on one.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from rallypoint.bench.results import BenchResult
from rallypoint.bench.route import Route
from rallypoint.bench.runner import run_scenario
from rallypoint.bench.scenarios import TLS_RATIO_TARGET, Scenario

COMPARE_ORDER = (False, True, False)
"""Whether each run of a comparison is TLS: plain, TLS, plain."""


def mean_rate(results: Sequence[BenchResult]) -> float | None:
    """Mean delivered messages/s of ``results``; None if there are none or one has no rate."""
    rates = [result.delivered_per_s for result in results]
    if not rates or any(rate is None for rate in rates):
        return None
    return sum(rate for rate in rates if rate is not None) / len(rates)


@dataclass(frozen=True)
class Comparison:
    """The runs of one plain-against-TLS comparison, in the order they ran."""

    runs: tuple[BenchResult, ...]

    @property
    def plain(self) -> tuple[BenchResult, ...]:
        return tuple(result for result in self.runs if not result.tls)

    @property
    def tls(self) -> tuple[BenchResult, ...]:
        return tuple(result for result in self.runs if result.tls)

    @property
    def plain_per_s(self) -> float | None:
        """Mean delivered messages/s of the plain runs."""
        return mean_rate(self.plain)

    @property
    def tls_per_s(self) -> float | None:
        """Mean delivered messages/s of the TLS runs."""
        return mean_rate(self.tls)

    @property
    def ratio(self) -> float | None:
        """TLS over plain (None when either could not be measured)."""
        plain, tls = self.plain_per_s, self.tls_per_s
        return tls / plain if plain and tls is not None else None

    def metrics(self) -> dict[str, float | None]:
        """The comparison's values targets are checked against, by name."""
        return {TLS_RATIO_TARGET.metric: self.ratio}


async def compare_tls(scenario: Scenario, plain: Route, tls: Route, server_pid: int | None) -> Comparison:
    """Run ``scenario`` over ``plain`` and ``tls`` in :data:`COMPARE_ORDER`, against one server."""
    runs = []
    for secure in COMPARE_ORDER:
        runs.append(await run_scenario(scenario, tls if secure else plain, server_pid))
    return Comparison(tuple(runs))
