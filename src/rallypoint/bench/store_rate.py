"""``rallypoint bench store``: events/s each store records and commits, SQLite and PostgreSQL.

SQLite is measured in a scratch file made for the run; PostgreSQL (and any other store) is
measured in the databases named by ``--store-url``, which must be scratch databases: the
run adds its events and migrations there. Stores are measured one after the other, in the
order given, with the same events (:func:`rallypoint.store.bench.measure_store_rate`).
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from rallypoint.errors import StoreError
from rallypoint.store.base import redacted_url
from rallypoint.store.bench import measure_store_rate
from rallypoint.transport.loop import run_event_loop

DEFAULT_EVENTS = 100_000


def add_store_options(bench: argparse.ArgumentParser) -> None:
    """The options only ``bench store`` reads."""
    group = bench.add_argument_group("store")
    group.add_argument(
        "--store-url",
        action="append",
        default=[],
        help="with `store`: also measure this scratch database (repeatable), e.g. postgresql://…",
    )
    group.add_argument(
        "--events",
        type=int,
        default=DEFAULT_EVENTS,
        help="with `store`: events to record; with `federation`: events made during the outage",
    )


def run_store_bench(args: argparse.Namespace) -> int:
    """Measure the embedded SQLite store, then every ``--store-url``; print events/s."""
    if args.events <= 0:
        print("rallypoint bench: --events must be positive", file=sys.stderr)
        return 2
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rallypoint-bench-store-") as scratch:
        urls = [f"sqlite://{Path(scratch) / 'bench.sqlite3'}", *args.store_url]
        for url in urls:
            try:
                rate = run_event_loop(measure_store_rate(url, args.events))
            except StoreError as exc:
                print(f"rallypoint bench: {exc}", file=sys.stderr)
                return 2
            name = "sqlite (scratch file, WAL)" if url == urls[0] else redacted_url(url)
            results.append({"store": name, "events": args.events, "events_per_s": rate})
    if args.json:
        print(json.dumps({"store": results}, indent=2))
    else:
        print(f"rallypoint bench store: {args.events:,} position reports recorded, then flushed")
        for result in results:
            print(f"  {result['store']:<40} {result['events_per_s']:>12,.0f} events/s")
    return 0
