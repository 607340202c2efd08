"""``rallypoint bench cluster``: the fan-out scenario over one, two and three cluster nodes.

One invocation runs the scenario (``fanout`` unless flags change it) against: the embedded
server (one process, no NATS) on the given PostgreSQL store; then a cluster of one, two and
three nodes, each node a server process of its own on that store and on one NATS server.
The senders write to node 1 and the receivers are spread over the nodes in turn, so with
two or three nodes most deliveries cross the bus. Each run reports delivered messages/s and
the delivery ratio; "cluster on one node / embedded" is what cluster mode costs by itself.

NATS is the ``--nats-url`` given, or a ``nats-server -js`` the bench starts on a free
loopback port with a throwaway store directory and ends by its pid. Each cluster run has a
cluster name of its own, so no run reads another's events.
"""

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rallypoint.bench.errors import BenchError
from rallypoint.bench.results import BenchResult
from rallypoint.bench.route import Route
from rallypoint.bench.runner import run_scenario
from rallypoint.bench.scenarios import Scenario, scenario_from_args
from rallypoint.bench.server import LOOPBACK, free_ports, spawned_server
from rallypoint.hostnames import is_loopback_host
from rallypoint.transport.loop import run_event_loop

NODE_COUNTS = (1, 2, 3)
NATS_BINARIES = ("nats-server", "/usr/sbin/nats-server")
NATS_START_TIMEOUT_S = 20.0
NATS_STOP_TIMEOUT_S = 15.0
PROBE_INTERVAL_S = 0.05


def add_cluster_arguments(bench: argparse.ArgumentParser) -> None:
    """The option only ``bench cluster`` reads (it takes its PostgreSQL from ``--store-url``)."""
    bench.add_argument_group("cluster").add_argument(
        "--nats-url", help="with `cluster`: a running NATS with JetStream (default: start nats-server)"
    )


@dataclass(frozen=True)
class ClusterRun:
    """One run of the comparison: how many nodes (0: the embedded server) and what it measured."""

    nodes: int
    result: BenchResult

    @property
    def label(self) -> str:
        return "embedded (no NATS)" if self.nodes == 0 else f"cluster, {self.nodes} node(s)"


def _ratio(runs: list[ClusterRun]) -> float | None:
    embedded = next((r.result.delivered_per_s for r in runs if r.nodes == 0), None)
    single = next((r.result.delivered_per_s for r in runs if r.nodes == 1), None)
    return single / embedded if embedded and single is not None else None


def _nats_binary() -> str:
    for candidate in NATS_BINARIES:
        found = shutil.which(candidate)
        if found:
            return found
    raise BenchError("nats-server is not installed (Debian: apt-get install nats-server), give --nats-url")


@asynccontextmanager
async def _nats(url: str | None, allow_remote: bool) -> AsyncIterator[str]:
    """The given NATS, or one started for the bench and ended by its pid afterwards."""
    if url is not None:
        host = urlsplit(url).hostname or ""
        if not allow_remote and not is_loopback_host(host):
            raise BenchError(
                f"--nats-url {host} is not a loopback address (add --allow-remote if you mean it)"
            )
        yield url
        return
    (port,) = free_ports(1)
    with tempfile.TemporaryDirectory(prefix="rallypoint-bench-nats-") as store:
        process = await asyncio.create_subprocess_exec(
            _nats_binary(), "-js", "-sd", store, "-a", LOOPBACK, "-p", str(port),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await _wait_accepting(process, port)
            yield f"nats://{LOOPBACK}:{port}"
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), NATS_STOP_TIMEOUT_S)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _wait_accepting(process: asyncio.subprocess.Process, port: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + NATS_START_TIMEOUT_S
    while loop.time() < deadline:
        if process.returncode is not None:
            raise BenchError(f"nats-server exited with code {process.returncode}")
        try:
            _, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            await asyncio.sleep(PROBE_INTERVAL_S)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise BenchError(f"nats-server did not accept connections within {NATS_START_TIMEOUT_S:g} s")


async def _run(scenario: Scenario, store_url: str, nats_url: str, nodes: int, log_level: str) -> BenchResult:
    cluster = f"bench{secrets.token_hex(4)}"
    node_settings = []
    for number in range(1, max(nodes, 1) + 1):
        settings = {"RALLYPOINT_STORE_URL": store_url, "RALLYPOINT_MISSIONS_ENABLED": "false"}
        if nodes:
            settings |= {
                "RALLYPOINT_CLUSTER_URL": nats_url,
                "RALLYPOINT_CLUSTER_NAME": cluster,
                "RALLYPOINT_CLUSTER_NODE_ID": f"node{number}",
            }
        node_settings.append(settings)
    async with AsyncExitStack() as stack:
        servers = await asyncio.gather(  # the nodes start side by side
            *(stack.enter_async_context(spawned_server(log_level, settings=s)) for s in node_settings)
        )
        first = servers[0].plain_route
        route = Route(first.receivers, first.senders, spread=tuple(s.plain_route.receivers for s in servers))
        return await run_scenario(scenario, route, servers[0].pid)


async def _compare(
    scenario: Scenario, store_url: str, nats_url: str | None, allow_remote: bool, log_level: str
) -> list[ClusterRun]:
    runs = []
    async with _nats(nats_url, allow_remote) as url:
        for nodes in (0, *NODE_COUNTS):
            runs.append(ClusterRun(nodes, await _run(scenario, store_url, url, nodes, log_level)))
    return runs


def _text(runs: list[ClusterRun], scenario: Scenario) -> str:
    lines = [
        f"rallypoint bench cluster: {scenario.clients} receivers spread over the nodes,"
        f" {scenario.senders} sender(s) on node 1, {scenario.duration_s:g} s measured",
        f"  {'setup':<22} {'delivered msg/s':>16} {'delivery ratio':>15} {'p50 ms':>8} {'p99 ms':>8}",
    ]
    for run in runs:
        result = run.result
        rate, ratio = result.delivered_per_s, result.delivery_ratio
        p50, p99 = result.latency.p50_ms, result.latency.p99_ms
        lines.append(
            f"  {run.label:<22} {_fmt(rate, 0):>16} {_fmt(ratio, 4):>15} {_fmt(p50, 1):>8} {_fmt(p99, 1):>8}"
        )
    lines.append(f"  cluster on one node / embedded: {_fmt(_ratio(runs), 3)}")
    return "\n".join(lines)


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _document(runs: list[ClusterRun]) -> dict[str, Any]:
    return {
        "runs": [
            {
                "nodes": run.nodes,
                "setup": run.label,
                "delivered_per_s": run.result.delivered_per_s,
                "delivery_ratio": run.result.delivery_ratio,
                "p50_ms": run.result.latency.p50_ms,
                "p99_ms": run.result.latency.p99_ms,
            }
            for run in runs
        ],
        "cluster_one_node_to_embedded_ratio": _ratio(runs),
    }


def run_cluster_bench(args: argparse.Namespace) -> int:
    """Run the comparison; 0 when every run delivered everything, 1 if not, 2 if it could not run."""
    postgres = [url for url in args.store_url if url.startswith(("postgresql://", "postgres://"))]
    if not postgres:
        print(
            "rallypoint bench: cluster needs --store-url postgresql://… (a scratch database)", file=sys.stderr
        )
        return 2
    scenario = scenario_from_args(args, "fanout")
    try:
        runs = run_event_loop(
            _compare(scenario, postgres[0], args.nats_url, args.allow_remote, args.server_log_level)
        )
    except BenchError as exc:
        print(f"rallypoint bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(_document(runs), indent=2) if args.json else _text(runs, scenario))
    complete = all(r.result.delivery_ratio is not None and r.result.delivery_ratio >= 0.999 for r in runs)
    return 0 if complete else 1
