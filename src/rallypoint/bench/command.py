"""Placeholder replaced by the benchmark module."""

import argparse
from typing import Any


def add_bench_parser(commands: Any) -> None:
    """Register the ``bench`` sub-command."""
    commands.add_parser("bench", help="load-test a server")


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark."""
    return 1
