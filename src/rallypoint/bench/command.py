"""``rallypoint bench``: command-line options, the run, and the exit code.

By default the bench starts its own server in a child process, so the server's memory and
CPU can be measured without the load generator's; ``--target`` points it at a server that
is already running instead. Only loopback targets are accepted unless ``--allow-remote``
says otherwise: a load generator aimed at the wrong address is a denial-of-service tool.

``--tls`` runs every connection over mutual TLS: the bench's own server gets a certificate
authority and bench identities before it starts; a ``--target`` (its TLS port) needs
``--ca``, ``--cert`` and ``--key``, one identity for every connection. ``--compare-tls``
runs the scenario over plain TCP, TLS and plain TCP again against one server the bench
starts, and checks TLS against the mean of the plain runs; it needs both ports of one
server process, so it refuses ``--target``.

Exit codes: 0 every target met, 1 some target missed, 2 the benchmark could not run.
"""

import argparse
import enum
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from rallypoint.bench import proc
from rallypoint.bench.cluster import add_cluster_arguments, run_cluster_bench
from rallypoint.bench.compare import compare_tls
from rallypoint.bench.compare_store import compare_store
from rallypoint.bench.errors import BenchError
from rallypoint.bench.faults import add_faults_arguments, run_faults_bench
from rallypoint.bench.federation import run_federation_bench
from rallypoint.bench.fusion import add_fusion_arguments, run_fusion_bench
from rallypoint.bench.missions import add_missions_arguments, run_missions_bench
from rallypoint.bench.peers import add_peers_arguments, run_peers_bench
from rallypoint.bench.report import Outcome, passed, to_document, to_text
from rallypoint.bench.route import Route
from rallypoint.bench.runner import run_scenario
from rallypoint.bench.scenarios import PRESETS, Scenario, scenario_from_args
from rallypoint.bench.server import spawned_server
from rallypoint.bench.store_rate import add_store_options, run_store_bench
from rallypoint.bench.tls import ClientFiles, TlsIdentities
from rallypoint.bench.web import add_web_arguments, run_web_bench
from rallypoint.cot.negotiation import WireFormat
from rallypoint.hostnames import is_loopback_host
from rallypoint.transport.loop import run_event_loop

SPECIAL_BENCHES: dict[str, Callable[[argparse.Namespace], int]] = {
    "store": run_store_bench,
    "fusion": run_fusion_bench,
    "missions": run_missions_bench,
    "web": run_web_bench,
    "peers": run_peers_bench,
    "cluster": run_cluster_bench,
    "federation": run_federation_bench,
    "faults": run_faults_bench,
}
"""Benchmarks that are not a load-generator scenario; each reads its own options from ``args``."""


class Address(NamedTuple):
    """A ``--target`` server address."""

    host: str
    port: int


class Mode(enum.Enum):
    """What the connections of a bench run are carried over."""

    TCP = "tcp"
    TLS = "tls"
    COMPARE = "compare"
    """Plain TCP, TLS, plain TCP against one server."""
    COMPARE_STORE = "compare-store"
    """Store off, on, off, on: a fresh server each run."""


@dataclass(frozen=True)
class Plan:
    """One ``rallypoint bench`` invocation, checked: what to run, against what, over what."""

    scenario: Scenario
    mode: Mode = Mode.TCP
    target: Address | None = None
    server_pid: int | None = None
    target_tls: TlsIdentities | None = None
    """``--tls`` against ``--target``: the identity every connection presents."""
    log_level: str = "WARNING"


def add_bench_parser(commands: Any) -> None:
    """Register the ``bench`` sub-command."""
    bench = commands.add_parser(
        "bench",
        help="load-test a server (starts its own unless --target is given)",
        description="Presets: fanout (10 clients, 1 sender flat out), steady (100 clients, 10 senders,"
        " 100 msg/s in total), idle (10000 idle connections). Flags override preset values.",
    )
    bench.add_argument(
        "scenario", choices=sorted([*PRESETS, *SPECIAL_BENCHES]), help="preset (or special bench) to run"
    )
    bench.add_argument("--clients", type=int, help="receiving connections")
    bench.add_argument("--senders", type=int, help="sending connections")
    bench.add_argument("--rate", type=float, help="messages/s from all senders together (0 = flat out)")
    bench.add_argument("--duration", type=float, help="measured seconds (idle: seconds held)")
    bench.add_argument("--warmup", type=float, help="unmeasured seconds first (idle: settling time)")
    bench.add_argument("--grace", type=float, help="seconds to wait for messages in flight after sending")
    bench.add_argument(
        "--format", choices=[f.value for f in WireFormat], help="xml, or protobuf after negotiation"
    )
    bench.add_argument("--max-messages", type=int, help="cap per sender and phase")
    bench.add_argument(
        "--window", type=int, help="flat out: most messages in flight, not yet at every client (0 = no cap)"
    )
    bench.add_argument("--target", help="HOST:PORT of a running server instead of starting one")
    bench.add_argument(
        "--server-pid", type=int, help="pid of the --target server, to measure its RSS and CPU"
    )
    bench.add_argument("--allow-remote", action="store_true", help="accept a --target that is not loopback")
    bench.add_argument(
        "--server-log-level", default="WARNING", help="log level of the server the bench starts"
    )
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    add_store_options(bench)
    add_fusion_arguments(bench)
    add_missions_arguments(bench)
    add_web_arguments(bench)
    add_peers_arguments(bench)
    add_cluster_arguments(bench)
    add_faults_arguments(bench)
    tls = bench.add_argument_group("TLS")
    tls.add_argument(
        "--tls", action="store_true", help="every connection over mutual TLS (reports the handshake rate)"
    )
    tls.add_argument(
        "--compare-tls",
        action="store_true",
        help="plain TCP, TLS, plain TCP on one server the bench starts: TLS/plain delivered msg/s",
    )
    bench.add_argument(
        "--compare-store",
        action="store_true",
        help="store off, on, off, on (a fresh server each run): persisted/unpersisted delivered msg/s",
    )
    tls.add_argument(
        "--ca", type=Path, help="with --tls --target: CA certificate (PEM) the server's chains to"
    )
    tls.add_argument("--cert", type=Path, help="with --tls --target: client certificate (PEM)")
    tls.add_argument("--key", type=Path, help="with --tls --target: the client certificate's key (PEM)")


def parse_address(text: str, *, allow_remote: bool = False) -> Address:
    """``HOST:PORT`` (``[v6]:PORT`` too), loopback only unless ``allow_remote``."""
    host, _, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BenchError(f"--target {text!r} is not HOST:PORT")
    if not allow_remote and not is_loopback_host(host):
        raise BenchError(f"--target {host} is not a loopback address (add --allow-remote if you mean it)")
    return Address(host, int(port_text))


def plan_from_args(args: argparse.Namespace) -> Plan:
    """Check the options together; :class:`BenchError` names the first conflict."""
    scenario = scenario_from_args(args)
    target = parse_address(args.target, allow_remote=args.allow_remote) if args.target else None
    if args.server_pid is not None and target is None:
        raise BenchError("--server-pid only applies with --target")
    mode = Mode.COMPARE if args.compare_tls else Mode.TLS if args.tls else Mode.TCP
    if args.compare_store:
        if mode is not Mode.TCP or target is not None or scenario.idle:
            raise BenchError("--compare-store starts its own plain-TCP servers: drop --tls/--target/idle")
        mode = Mode.COMPARE_STORE
    files = (args.ca, args.cert, args.key)
    if mode is Mode.COMPARE and target is not None:
        raise BenchError("--compare-tls needs both ports of one server: it starts its own (drop --target)")
    if mode is Mode.COMPARE and scenario.idle:
        raise BenchError("--compare-tls compares delivered msg/s; idle delivers none (use idle --tls)")
    target_tls = None
    if mode is Mode.TLS and target is not None:
        if any(path is None for path in files):
            raise BenchError(
                "--tls with --target needs --ca, --cert and --key (an identity the server knows)"
            )
        target_tls = TlsIdentities.shared(args.ca, ClientFiles(args.cert, args.key), target.host)
    elif any(path is not None for path in files):
        raise BenchError("--ca, --cert and --key only apply with --tls --target")
    return Plan(scenario, mode, target, args.server_pid, target_tls, args.server_log_level)


async def bench(plan: Plan) -> tuple[Outcome, str]:
    """Run against ``plan.target``, or against a server started for the run; say which."""
    scenario, target = plan.scenario, plan.target
    if target is not None:
        origin = "running server" + (f", pid {plan.server_pid}" if plan.server_pid is not None else "")
        tls = plan.target_tls
        route = tls.route(target.host, target.port) if tls else Route.plain(target.host, target.port)
        return await run_scenario(scenario, route, plan.server_pid), origin
    if plan.mode is Mode.COMPARE_STORE:
        return await compare_store(scenario, plan.log_level), "servers started by the bench"
    tls_senders = None if plan.mode is Mode.TCP else scenario.senders
    async with spawned_server(plan.log_level, tls_senders=tls_senders) as server:
        origin = f"started by the bench, pid {server.pid}"
        if plan.mode is Mode.COMPARE:
            return await compare_tls(scenario, server.plain_route, server.tls_route, server.pid), origin
        route = server.tls_route if plan.mode is Mode.TLS else server.plain_route
        return await run_scenario(scenario, route, server.pid), origin


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark the arguments describe, print the report, return the exit code."""
    special = SPECIAL_BENCHES.get(args.scenario)
    if special is not None:
        return special(args)
    try:
        plan = plan_from_args(args)
        proc.ensure_open_files(plan.scenario.connections)
        outcome, origin = run_event_loop(bench(plan))
    except BenchError as exc:
        print(f"rallypoint bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(to_document(outcome, origin), indent=2) if args.json else to_text(outcome, origin))
    return 0 if passed(outcome) else 1
