"""The ``rallypoint`` command line: ``serve``, ``bench`` and friends.

This is the outermost boundary: settings errors become a one-line message and exit code 2;
everything below raises typed errors.
"""

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rallypoint import __version__
from rallypoint.config import Settings, load_settings
from rallypoint.cot import hotpath
from rallypoint.errors import ConfigError, PkiError
from rallypoint.missions.commands import MISSION_COMMANDS, add_mission_parsers, run_mission_command
from rallypoint.pki.commands import PKI_COMMANDS, add_pki_parsers, run_pki_command
from rallypoint.transport.loop import run_event_loop

log = logging.getLogger("rallypoint")


SLOW_TO_LOAD = ("bench", "feed")
"""Sub-commands whose modules import the load generator and the tracker (numpy, scipy: over a
second). Their options are registered only when they run or when all commands are listed, so
that an admin command (``rallypoint user add``) starts in a fraction of that."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """All sub-commands and their options (only the names of the slow ones unless ``command``
    is one of them or None)."""
    parser = argparse.ArgumentParser(prog="rallypoint", description="TAK-compatible field-operations server")
    parser.add_argument("--version", action="version", version=f"rallypoint {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the server (defaults: 127.0.0.1, tcp+udp 8087, ./rallypoint-data)"
    )
    serve.add_argument(
        "--config", type=Path, help="TOML settings file (default ./rallypoint.toml if present)"
    )
    serve.add_argument("--host", help="address to bind every listener to")
    serve.add_argument("--tcp-port", type=int, help="plain CoT streaming port (0 = any free port)")
    serve.add_argument("--udp-port", type=int, help="CoT UDP input port")
    serve.add_argument("--data-dir", type=Path, help="where the server keeps its data")
    serve.add_argument(
        "--multicast", action="store_true", default=None, help="join the 239.2.3.1:6969 SA group"
    )
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING ...")
    serve.add_argument(
        "--hot-path",
        choices=hotpath.AVAILABLE,
        help="CoT scan implementation (default: native when built); for side-by-side measurements",
    )

    if command in (None, "bench"):
        from rallypoint.bench.command import add_bench_parser

        add_bench_parser(commands)
    else:
        commands.add_parser("bench")
    add_pki_parsers(commands)
    add_mission_parsers(commands)
    if command in (None, "feed"):
        from rallypoint.fusion.commands import add_feed_parser

        add_feed_parser(commands)
    else:
        commands.add_parser("feed")
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    """The sub-command ``argv`` names (the top level has no option taking a value), or None."""
    return next((word for word in argv if not word.startswith("-")), None)


def serve_settings(args: argparse.Namespace) -> Settings:
    """Settings from file and environment, then the command-line overrides."""
    overrides: dict[str, Any] = {
        "host": args.host,
        "tcp_port": args.tcp_port,
        "udp_port": args.udp_port,
        "multicast_enabled": args.multicast,
        "log_level": args.log_level,
    }
    return command_settings(args).with_overrides({k: v for k, v in overrides.items() if v is not None})


def command_settings(args: argparse.Namespace) -> Settings:
    """``--config`` (or ./rallypoint.toml), the environment, then ``--data-dir``: what every
    command that works on the data directory reads, so that they all find the same one."""
    settings = load_settings(args.config)
    return settings if args.data_dir is None else settings.with_overrides({"data_dir": args.data_dir})


async def serve(settings: Settings) -> None:
    """Run the server until SIGINT or SIGTERM, then shut down cleanly."""
    from rallypoint.server.server import Server

    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create data directory {settings.data_dir}: {exc}") from exc
    server = Server(settings)
    try:
        await server.start()  # on any failure it has stopped what it started before raising
    except OSError as exc:
        raise ConfigError(f"cannot listen on {settings.host}: {exc.strerror or exc}") from exc
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(server.stop()))
    log.info("data directory: %s", settings.data_dir.resolve())
    log.info("CoT hot path: %s", hotpath.describe())
    await server.serve_until_stopped()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rallypoint`` console script."""
    words = sys.argv[1:] if argv is None else argv
    args = build_parser(_command_word(words)).parse_args(words)
    try:
        if args.command == "serve":
            settings = serve_settings(args)
            logging.basicConfig(
                level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
            )
            if args.hot_path is not None:
                hotpath.use(args.hot_path)
            run_event_loop(serve(settings))
            return 0
        if args.command == "bench":
            from rallypoint.bench.command import run_bench

            return run_bench(args)
        if args.command == "feed":
            from rallypoint.fusion.commands import run_feed_command

            return run_feed_command(args)
        if args.command in MISSION_COMMANDS:
            return run_mission_command(args)
        if args.command in PKI_COMMANDS:
            return run_pki_command(args, command_settings(args))
    except (ConfigError, PkiError) as exc:
        print(f"rallypoint: {exc}", file=sys.stderr)
        return 2
    return 1
