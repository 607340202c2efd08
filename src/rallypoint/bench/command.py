"""``rallypoint bench``: command-line options, the run, and the exit code.

By default the bench starts its own server in a child process, so the server's memory and
CPU can be measured without the load generator's; ``--target`` points it at a server that
is already running instead. Only loopback targets are accepted unless ``--allow-remote``
says otherwise: a load generator aimed at the wrong address is a denial-of-service tool.

Exit codes: 0 every target met, 1 some target missed, 2 the benchmark could not run.
"""

import argparse
import ipaddress
import json
import sys
from typing import Any, NamedTuple

from rallypoint.bench import proc
from rallypoint.bench.errors import BenchError
from rallypoint.bench.report import render_text, to_json, verdicts
from rallypoint.bench.runner import BenchResult, run_scenario
from rallypoint.bench.scenarios import PRESETS, Scenario
from rallypoint.bench.server import spawned_server
from rallypoint.cot.negotiation import WireFormat
from rallypoint.net.loop import run_event_loop


class Address(NamedTuple):
    """A ``--target`` server address."""

    host: str
    port: int


def add_bench_parser(commands: Any) -> None:
    """Register the ``bench`` sub-command."""
    bench = commands.add_parser(
        "bench",
        help="load-test a server (starts its own unless --target is given)",
        description="Presets: fanout (10 clients, 1 sender flat out), steady (100 clients, 10 senders,"
        " 100 msg/s in total), idle (10000 idle connections). Flags override preset values.",
    )
    bench.add_argument("scenario", choices=sorted(PRESETS), help="preset to run")
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


def parse_address(text: str, *, allow_remote: bool = False) -> Address:
    """``HOST:PORT`` (``[v6]:PORT`` too), loopback only unless ``allow_remote``."""
    host, _, port_text = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BenchError(f"--target {text!r} is not HOST:PORT")
    if not allow_remote and not _is_loopback(host):
        raise BenchError(f"--target {host} is not a loopback address (add --allow-remote if you mean it)")
    return Address(host, int(port_text))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """The preset named on the command line with its overrides applied."""
    return PRESETS[args.scenario].with_overrides(
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


async def bench(
    scenario: Scenario, target: Address | None, server_pid: int | None, log_level: str
) -> tuple[BenchResult, str]:
    """Run against ``target``, or against a server started for the run; say which."""
    if target is not None:
        origin = "running server" + (f", pid {server_pid}" if server_pid is not None else "")
        return await run_scenario(scenario, target.host, target.port, server_pid), origin
    async with spawned_server(log_level) as server:
        result = await run_scenario(scenario, server.host, server.port, server.pid)
        return result, f"started by the bench, pid {server.pid}"


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark the arguments describe, print the report, return the exit code."""
    try:
        scenario = scenario_from_args(args)
        target = parse_address(args.target, allow_remote=args.allow_remote) if args.target else None
        if args.server_pid is not None and target is None:
            raise BenchError("--server-pid only applies with --target")
        proc.ensure_open_files(scenario.connections)
        result, origin = run_event_loop(bench(scenario, target, args.server_pid, args.server_log_level))
    except BenchError as exc:
        print(f"rallypoint bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(to_json(result, origin), indent=2))
    else:
        print(render_text(result, origin))
    return 0 if all(verdict.passed for verdict in verdicts(result)) else 1
