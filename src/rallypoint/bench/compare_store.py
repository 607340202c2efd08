"""Persistence on against persistence off, in one invocation: the store issue's fan-out target.

Two server processes take turns (store off, on, off, on), each run against a server of its
own so one run's database never weighs on the next; each side's rate is the mean of its
runs, so a drift of the machine during the comparison weighs on both sides alike.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rallypoint.bench.compare import mean_rate
from rallypoint.bench.results import BenchResult
from rallypoint.bench.runner import run_scenario
from rallypoint.bench.scenarios import Scenario, Target
from rallypoint.bench.server import spawned_server

STORE_RATIO_TARGET = Target("store_on_to_off_ratio", ">=", 0.80)
"""The store issue's goal: with every routed event persisted, fan-out delivers at least
80 % of the messages/s it delivers with no store, measured in the same invocation."""

STORE_COMPARE_ORDER = (False, True, False, True)
"""Whether each run of the comparison persists: off, on, off, on."""


@dataclass(frozen=True)
class StoreComparison:
    """The runs of one store-on against store-off comparison, in the order they ran."""

    runs: tuple[BenchResult, ...]
    stored: tuple[bool, ...]

    def _side(self, persisted: bool) -> tuple[BenchResult, ...]:
        return tuple(run for run, on in zip(self.runs, self.stored, strict=True) if on is persisted)

    @property
    def off_per_s(self) -> float | None:
        """Mean delivered messages/s with no store."""
        return mean_rate(self._side(False))

    @property
    def on_per_s(self) -> float | None:
        """Mean delivered messages/s with every routed event persisted."""
        return mean_rate(self._side(True))

    @property
    def ratio(self) -> float | None:
        """On over off (None when either could not be measured)."""
        off, on = self.off_per_s, self.on_per_s
        return on / off if off and on is not None else None

    def metrics(self) -> dict[str, float | None]:
        """The values the target is checked against, by name."""
        return {STORE_RATIO_TARGET.metric: self.ratio}

    @property
    def passed(self) -> bool:
        """The ratio met its target and every run delivered everything it should."""
        runs_ok = all(run.delivery_ratio is not None and run.delivery_ratio >= 0.999 for run in self.runs)
        return runs_ok and STORE_RATIO_TARGET.passed(self.ratio)


async def compare_store(scenario: Scenario, log_level: str) -> StoreComparison:
    """Run ``scenario`` in :data:`STORE_COMPARE_ORDER`, each run on a fresh server."""
    runs = []
    for persisted in STORE_COMPARE_ORDER:
        async with spawned_server(log_level, store=persisted) as server:
            runs.append(await run_scenario(scenario, server.plain_route, server.pid))
    return StoreComparison(tuple(runs), STORE_COMPARE_ORDER)


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} msg/s"


def render_store_text(comparison: StoreComparison, run_texts: Sequence[str]) -> str:
    """Every run's report, then the comparison and its verdict."""
    lines: list[str] = []
    for number, (text, persisted) in enumerate(zip(run_texts, comparison.stored, strict=True), 1):
        lines += [f"== run {number} of {len(run_texts)}: store {'on' if persisted else 'off'} ==", text]
    ratio = comparison.ratio
    lines += [
        "== comparison: store off, on, off, on (a fresh server each run) ==",
        f"  store off    {_rate(comparison.off_per_s)} delivered (mean)",
        f"  store on     {_rate(comparison.on_per_s)} delivered (mean; every routed event persisted)",
        f"  on/off       {'n/a' if ratio is None else f'{ratio:.3f}'}",
        "targets",
        f"  {'PASS' if comparison.passed else 'FAIL'}  {STORE_RATIO_TARGET}"
        f"  (measured {'n/a' if ratio is None else f'{ratio:.3f}'})",
    ]
    return "\n".join(lines)


def store_comparison_json(comparison: StoreComparison, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The machine-readable report of a store comparison."""
    return {
        "runs": runs,
        "comparison": {
            "order": ["on" if persisted else "off" for persisted in comparison.stored],
            "off_mean_delivered_per_s": comparison.off_per_s,
            "on_mean_delivered_per_s": comparison.on_per_s,
            STORE_RATIO_TARGET.metric: comparison.ratio,
            "passed": comparison.passed,
        },
        "passed": comparison.passed,
    }
