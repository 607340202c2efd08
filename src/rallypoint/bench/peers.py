"""``rallypoint bench peers``: the fan-out scenario against taky and against Rallypoint, in one run.

Both servers get the same load generator, the same scenario (the ``fanout`` preset and its
overrides) and the same machine minutes apart, so the ratio of their delivered messages/s is
fair where figures from separate runs are not. taky is installed from PyPI into a scratch
virtual environment (or ``--taky-venv`` reuses one); Rallypoint runs as the bench's own child
process with its default store on.

Each server runs twice, each time a fresh process: flat out, which measures its maximum, then paced at
:data:`LATENCY_FRACTION` of that maximum, where its p99 latency is what a client sees from a
busy server that keeps up (flat out, the latency is only the depth of the kernel's buffers).
"""

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rallypoint.bench import proc
from rallypoint.bench.errors import BenchError
from rallypoint.bench.results import BenchResult
from rallypoint.bench.route import Route
from rallypoint.bench.runner import run_scenario
from rallypoint.bench.scenarios import PRESETS, Scenario, Target
from rallypoint.bench.server import LOOPBACK, spawned_server
from rallypoint.bench.taky import TAKY_REQUIREMENT, install_taky, taky_server
from rallypoint.transport.loop import run_event_loop

LATENCY_FRACTION = 0.8
"""The paced run's rate, as a fraction of the flat-out run's inbound rate."""
PEER_RATIO_TARGET = Target("peer_ratio", ">=", 30.0)
"""The issue's goal: thirty times taky's delivered messages/s, in the same run."""
PACED_P99_TARGET = Target("paced_p99_ms", "<", 20.0)
"""The issue's goal for Rallypoint's p99 at 80 % of its measured maximum."""


@dataclass(frozen=True)
class PeerRuns:
    """One server's two runs: flat out, then paced at a fraction of that."""

    name: str
    flat_out: BenchResult
    paced: BenchResult | None
    """None when the flat-out run delivered nothing to pace by."""


def add_peers_arguments(bench: argparse.ArgumentParser) -> None:
    """The options only ``bench peers`` reads."""
    group = bench.add_argument_group("peers")
    group.add_argument(
        "--taky-venv",
        type=Path,
        help=f"peers: a virtual environment with {TAKY_REQUIREMENT} (default: install into a scratch one)",
    )


def peers_scenario(args: argparse.Namespace) -> Scenario:
    """The ``fanout`` preset with the command line's overrides (``--rate`` is set by the paced run)."""
    return PRESETS["fanout"].with_overrides(
        name="peers",
        clients=args.clients,
        senders=args.senders,
        duration_s=args.duration,
        warmup_s=args.warmup,
        grace_s=args.grace,
        max_messages=args.max_messages,
        window=args.window,
        targets=(),
    )


Launch = Callable[[], AbstractAsyncContextManager[tuple[Route, int]]]
"""Starts one fresh server process: its route and pid for the duration of the block."""


async def _measure(name: str, scenario: Scenario, launch: Launch) -> PeerRuns:
    """Flat out, then paced: each on a fresh process, so nothing of the first run (taky replays
    what it kept to every new client) is counted in the second."""
    async with launch() as (route, pid):
        flat_out = await run_scenario(scenario, route, pid)
    rate = flat_out.delivered_per_s
    if not rate:
        return PeerRuns(name, flat_out, None)
    paced = scenario.with_overrides(rate=rate / scenario.clients * LATENCY_FRACTION)
    async with launch() as (route, pid):
        return PeerRuns(name, flat_out, await run_scenario(paced, route, pid))


async def run_peers(scenario: Scenario, venv: Path | None, log_level: str) -> tuple[PeerRuns, PeerRuns]:
    """taky's runs, then Rallypoint's."""
    with tempfile.TemporaryDirectory(prefix="rallypoint-peers-") as temp:
        workdir = Path(temp)
        taky_env = venv if venv is not None else await asyncio.to_thread(install_taky, workdir)

        @asynccontextmanager
        async def taky() -> AsyncIterator[tuple[Route, int]]:
            async with taky_server(taky_env, workdir) as server:
                yield Route.plain(LOOPBACK, server.port, offers=False), server.pid

        @asynccontextmanager
        async def rallypoint() -> AsyncIterator[tuple[Route, int]]:
            async with spawned_server(log_level) as server:
                yield server.plain_route, server.pid

        return await _measure("taky", scenario, taky), await _measure("rallypoint", scenario, rallypoint)


def ratio(taky: PeerRuns, ours: PeerRuns) -> float | None:
    """Rallypoint's delivered messages/s over taky's (None when either is unknown)."""
    theirs, mine = taky.flat_out.delivered_per_s, ours.flat_out.delivered_per_s
    return mine / theirs if theirs and mine is not None else None


def per_cpu_second(delivered_per_s: float | None, cpu_percent: float | None) -> float | None:
    """Deliveries per second of server CPU (user + system from ``/proc/<pid>/stat``): the rate
    with the share of a core each server got taken out, so a noisy shared machine skews it less."""
    if delivered_per_s is None or not cpu_percent:
        return None
    return delivered_per_s / (cpu_percent / 100.0)


def cpu_ratio(taky: PeerRuns, ours: PeerRuns) -> float | None:
    """Rallypoint's deliveries per server CPU-second over taky's (None when either is unknown)."""
    theirs, mine = (per_cpu_second(*_rate_and_cpu(runs)) for runs in (taky, ours))
    return mine / theirs if theirs and mine is not None else None


def _rate_and_cpu(runs: PeerRuns) -> tuple[float | None, float | None]:
    flat = runs.flat_out
    return flat.delivered_per_s, flat.server.cpu_percent if flat.server else None


def _row(runs: PeerRuns) -> dict[str, Any]:
    flat, paced = runs.flat_out, runs.paced
    return {
        "server": runs.name,
        "delivered_per_s": flat.delivered_per_s,
        "delivery_ratio": flat.delivery_ratio,
        "server_cpu_percent": flat.server.cpu_percent if flat.server else None,
        "delivered_per_cpu_s": per_cpu_second(*_rate_and_cpu(runs)),
        "generator_cpu_percent": flat.generator_cpu_percent,
        "flat_out_p99_ms": flat.latency.p99_ms,
        "paced_rate_per_s": paced.scenario.rate if paced else None,
        "paced_delivery_ratio": paced.delivery_ratio if paced else None,
        "paced_p99_ms": paced.latency.p99_ms if paced else None,
        "paced_generator_cpu_percent": paced.generator_cpu_percent if paced else None,
    }


def peers_document(taky: PeerRuns, ours: PeerRuns) -> dict[str, Any]:
    """The machine-readable report, with each target's verdict."""
    value = ratio(taky, ours)
    paced_p99 = ours.paced.latency.p99_ms if ours.paced else None
    targets = {
        str(PEER_RATIO_TARGET): PEER_RATIO_TARGET.passed(value),
        str(PACED_P99_TARGET): PACED_P99_TARGET.passed(paced_p99),
    }
    return {
        "runs": [_row(taky), _row(ours)],
        PEER_RATIO_TARGET.metric: value,
        "per_cpu_second_ratio": cpu_ratio(taky, ours),
        "targets": targets,
    }


def _n(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def peers_text(scenario: Scenario, document: dict[str, Any]) -> str:
    """The human-readable report: one line per server, the ratio, the targets."""
    lines = [
        f"rallypoint bench peers: {scenario.clients} clients, {scenario.senders} sender(s), xml,"
        f" {scenario.duration_s:g} s measured after {scenario.warmup_s:g} s warm-up; {TAKY_REQUIREMENT}"
        " and Rallypoint (store on) in this one run, the same load generator",
        f"  {'server':<11} {'delivered/s':>12} {'ratio':>7} {'srv CPU':>8} {'per CPU-s':>10} {'gen CPU':>8}"
        f" {'p99 flat':>10} {'paced at/s':>11} {'p99 paced':>10}",
    ]
    for row in document["runs"]:
        lines.append(
            f"  {row['server']:<11} {_n(row['delivered_per_s']):>12} {_n(row['delivery_ratio'], 4):>7}"
            f" {_n(row['server_cpu_percent'], 1):>7}% {_n(row['delivered_per_cpu_s']):>10}"
            f" {_n(row['generator_cpu_percent'], 1):>7}%"
            f" {_n(row['flat_out_p99_ms'], 1):>8}ms {_n(row['paced_rate_per_s']):>11}"
            f" {_n(row['paced_p99_ms'], 2):>8}ms"
        )
    lines.append(
        f"  rallypoint/taky  {_n(document[PEER_RATIO_TARGET.metric], 2)}x delivered messages/s,"
        f" {_n(document['per_cpu_second_ratio'], 2)}x deliveries per server CPU-second"
    )
    lines.append("targets")
    lines += [f"  {'PASS' if met else 'FAIL'}  {name}" for name, met in document["targets"].items()]
    return "\n".join(lines)


def run_peers_bench(args: argparse.Namespace) -> int:
    """``rallypoint bench peers``: 0 every target met, 1 one missed, 2 could not run."""
    try:
        scenario = peers_scenario(args)
        proc.ensure_open_files(scenario.connections)
        taky, ours = run_event_loop(run_peers(scenario, args.taky_venv, args.server_log_level))
    except BenchError as exc:
        print(f"rallypoint bench peers: {exc}", file=sys.stderr)
        return 2
    document = peers_document(taky, ours)
    print(json.dumps(document, indent=2) if args.json else peers_text(scenario, document))
    return 0 if all(document["targets"].values()) else 1
