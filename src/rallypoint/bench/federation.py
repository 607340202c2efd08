"""``rallypoint bench federation``: how fast what one site made during an outage crosses after it.

Two sites, each a ``nats-server`` with its own JetStream domain (linked as leaf nodes through a
cuttable proxy, ``bench.federation_sites``) and a Rallypoint server process with its own SQLite
store. With the link cut, a client at alpha sends ``--events`` positions (distinct uids, so
none replaces another; the option is ``bench store``'s too) and the bench waits until alpha's
JetStream holds them all; then the link is restored and a client at bravo counts them
arriving. It reports the catch-up rate from the moment of restoring (leaf reconnection
included) and from the first arrival (the crossing itself), and whether every event arrived
exactly once.
"""

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rallypoint.bench.errors import BenchError
from rallypoint.bench.server import LOOPBACK, spawned_server
from rallypoint.cot.event import Event, Point
from rallypoint.cot.xml import serialize_event
from rallypoint.transport.loop import run_event_loop

if TYPE_CHECKING:
    from rallypoint.bench.federation_sites import Sites

SEND_CHUNK = 500
"""Events written to the socket at once."""
WAIT_S = 120.0
"""The longest wait for one phase (stored at alpha, arrived at bravo) before the bench gives up."""
PROBE_INTERVAL_S = 0.05
READ_SIZE = 1 << 20
UID_PATTERN = re.compile(rb'uid="((?:FED|PROBE)-[0-9]+)"')
TRACK_TYPE = "a-h-G"
TRACK_LIFETIME_MS = 3_600_000

POLICY = """[federation]
site = "{site}"
[[federation.remotes]]
site = "{remote}"
outbound = {{ groups = ["__ANON__"], kinds = ["positions"] }}
inbound = {{ groups = {{ "__ANON__" = "__ANON__" }}, kinds = ["positions"] }}
"""


@dataclass(frozen=True)
class CatchUp:
    events: int
    arrived: int
    duplicates: int
    from_restore_s: float
    from_first_s: float
    sourced_s: float
    """From restoring until bravo's JetStream held its copy of every event."""

    @property
    def rate_from_restore(self) -> float:
        return self.arrived / self.from_restore_s if self.from_restore_s > 0 else 0.0

    @property
    def rate_from_first(self) -> float:
        return self.arrived / self.from_first_s if self.from_first_s > 0 else 0.0


def _event(uid: str, now_ms: int) -> bytes:
    """One tracked object's position (not a device's own report: nothing binds or replaces it)."""
    event = Event(uid, TRACK_TYPE, "m-g", now_ms, now_ms, now_ms + TRACK_LIFETIME_MS, Point(1.0, 2.0))
    return serialize_event(event)


class Counter:
    """Reads one client's stream and counts the bench's events in it, once each."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.seen: set[bytes] = set()
        self.duplicates = 0
        self.first_at: float | None = None
        self._tail = b""

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while chunk := await self._reader.read(READ_SIZE):
            data = self._tail + chunk
            cut = data.rfind(b"</event>")
            complete, self._tail = (data[: cut + 8], data[cut + 8 :]) if cut >= 0 else (b"", data)
            for uid in UID_PATTERN.findall(complete):
                if self.first_at is None and uid.startswith(b"FED-"):
                    self.first_at = loop.time()
                if uid in self.seen:
                    self.duplicates += 1
                self.seen.add(uid)


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not await condition():
        if loop.time() > deadline:
            raise BenchError(f"{what} not within {WAIT_S:g} s")
        await asyncio.sleep(PROBE_INTERVAL_S)


async def _stored(nats_url: str, stream: str, count: int) -> bool:
    import nats  # here: NATS is the optional cluster extra

    client = await nats.connect(nats_url, allow_reconnect=False, connect_timeout=2)
    try:
        info = await client.jetstream().stream_info(stream)
        return info.state.messages >= count
    finally:
        await client.close()


async def _measure(events: int, log_level: str) -> CatchUp:
    try:
        from rallypoint.bench.federation_sites import two_sites  # here: it needs nats-py
    except ImportError as exc:
        raise BenchError(f"federation needs nats-py: pip install 'rallypoint[cluster]' ({exc})") from exc
    with tempfile.TemporaryDirectory(prefix="rallypoint-bench-federation-") as temp:
        root = Path(temp)
        async with AsyncExitStack() as stack:
            sites = await stack.enter_async_context(two_sites(root / "nats"))
            servers = []
            for site, remote, url in (
                ("alpha", "bravo", sites.alpha_url),
                ("bravo", "alpha", sites.bravo_url),
            ):
                policy = root / f"{site}.toml"
                policy.write_text(POLICY.format(site=site, remote=remote))
                env = {
                    "RALLYPOINT_FEDERATION_URL": url,
                    "RALLYPOINT_FEDERATION_FILE": str(policy),
                    "RALLYPOINT_MISSIONS_ENABLED": "false",
                }
                servers.append(await stack.enter_async_context(spawned_server(log_level, settings=env)))
            alpha, bravo = servers
            _, sender = await asyncio.open_connection(LOOPBACK, alpha.port)
            reader, receiver = await asyncio.open_connection(LOOPBACK, bravo.port, limit=READ_SIZE)
            counter = Counter(reader)
            counting = asyncio.create_task(counter.run())
            try:
                return await _outage(sites, sender, counter, events)
            finally:
                counting.cancel()
                for writer in (sender, receiver):
                    writer.close()
    raise AssertionError("unreachable")


async def _outage(sites: "Sites", sender: asyncio.StreamWriter, counter: Counter, events: int) -> CatchUp:
    loop = asyncio.get_running_loop()
    now_ms = int(time.time() * 1000)
    sender.write(_event("PROBE-0", now_ms))
    await sender.drain()

    async def probe_arrived() -> bool:
        return b"PROBE-0" in counter.seen

    await _until(probe_arrived, "the first event across the link")
    sites.cut()

    async def unlinked() -> bool:
        return not await sites.linked()

    await _until(unlinked, "the link down")
    for start in range(0, events, SEND_CHUNK):
        now_ms = int(time.time() * 1000)
        sender.write(
            b"".join(_event(f"FED-{n}", now_ms) for n in range(start, min(events, start + SEND_CHUNK)))
        )
        await sender.drain()
    await _until(
        lambda: _stored(sites.alpha_url, "RPFED_ALPHA_OUT", events + 1), "alpha's JetStream storing all"
    )
    if len(counter.seen) > 1:
        raise BenchError(f"{len(counter.seen) - 1} events crossed while the link was cut")
    restored = loop.time()
    sites.restore()
    await _until(lambda: _stored(sites.bravo_url, "RPFED_BRAVO_FROM_ALPHA", events + 1), "bravo's copy")
    sourced = loop.time()

    async def all_arrived() -> bool:
        return len(counter.seen) >= events + 1

    await _until(all_arrived, "every event at bravo")
    done = loop.time()
    first = counter.first_at if counter.first_at is not None else restored
    return CatchUp(
        events, len(counter.seen) - 1, counter.duplicates, done - restored, done - first, sourced - restored
    )


def run_federation_bench(args: argparse.Namespace) -> int:
    """Run the outage once; 0 when every event crossed exactly once, 1 if not, 2 if it could not run."""
    try:
        result = run_event_loop(_measure(args.events, args.server_log_level))
    except BenchError as exc:
        print(f"rallypoint bench: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_document(result), indent=2))
    else:
        print(
            f"rallypoint bench federation: {result.events} events made at alpha while the link was cut\n"
            f"  arrived at bravo once: {result.arrived}, duplicates: {result.duplicates}\n"
            f"  catch-up from restoring the link: {result.rate_from_restore:,.0f} events/s"
            f" ({result.from_restore_s:.2f} s, leaf reconnection included)\n"
            f"  catch-up from the first arrival:  {result.rate_from_first:,.0f} events/s"
            f" ({result.from_first_s:.2f} s)\n"
            f"  of which copying into bravo's JetStream (source over the leaf node):"
            f" {result.sourced_s:.2f} s, {result.events / max(result.sourced_s, 1e-9):,.0f} events/s"
        )
    return 0 if result.arrived == result.events and not result.duplicates else 1


def _document(result: CatchUp) -> dict[str, Any]:
    return {
        "events": result.events,
        "arrived": result.arrived,
        "duplicates": result.duplicates,
        "from_restore_s": result.from_restore_s,
        "from_first_s": result.from_first_s,
        "sourced_s": result.sourced_s,
        "catch_up_per_s_from_restore": result.rate_from_restore,
        "catch_up_per_s_from_first": result.rate_from_first,
    }
