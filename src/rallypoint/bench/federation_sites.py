"""Two NATS servers for two federated sites, linked as leaf nodes through a cuttable proxy.

Site ``alpha`` is the hub: its ``nats-server`` listens for leaf nodes. Site ``bravo``'s server
is a leaf node whose one remote is a :class:`~rallypoint.bench.faultproxy.FaultProxy` in front
of alpha's leaf-node port, so the link between the sites can be cut (``cut``: every connection
aborted and new ones refused) and restored while both servers, and the Rallypoint servers on
them, keep running. Each server has its own JetStream domain (the site name) and a throwaway
store directory, listens on free loopback ports and is ended by its pid. The bench's
``federation`` run and the federation integration tests use it.
"""

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import nats
import nats.errors

from rallypoint.bench.errors import BenchError
from rallypoint.bench.faultproxy import FaultProxy
from rallypoint.bench.server import LOOPBACK, free_ports

NATS_BINARIES = ("nats-server", "/usr/sbin/nats-server")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
PROBE_INTERVAL_S = 0.05
LEAF_RECONNECT_S = 1
"""Seconds between the leaf node's attempts to reach the hub again after the link went down."""


def nats_binary() -> str:
    for candidate in NATS_BINARIES:
        found = shutil.which(candidate)
        if found:
            return found
    raise BenchError("nats-server is not installed (Debian: apt-get install nats-server)")


def site_config(
    site: str, port: int, store: Path, *, leaf_port: int | None, hub_port: int | None, advertise_port: int = 0
) -> str:
    """A ``nats-server`` configuration: JetStream in domain ``site``, a leaf-node listener on
    ``leaf_port`` that leaf nodes are told is at ``advertise_port`` (the hub), or one remote at
    ``hub_port`` (the leaf)."""
    lines = [
        f"server_name: {site}",
        f'listen: "{LOOPBACK}:{port}"',
        f'jetstream {{ domain: {site}, store_dir: "{store}" }}',
    ]
    if leaf_port is not None:
        # advertise the proxy: else the hub tells the leaf its own address (no_advertise does not
        # stop that in 2.9), and the leaf reconnects there directly, around the cut link
        listen = f'listen: "{LOOPBACK}:{leaf_port}", advertise: "{LOOPBACK}:{advertise_port}"'
        lines.append(f"leafnodes {{ {listen} }}")
    if hub_port is not None:
        remote = f'{{ url: "nats-leaf://{LOOPBACK}:{hub_port}" }}'
        lines.append(f"leafnodes {{ reconnect: {LEAF_RECONNECT_S}, remotes: [ {remote} ] }}")
    return "\n".join(lines) + "\n"


@dataclass
class Sites:
    """The two running NATS servers and the link between them."""

    alpha_url: str
    bravo_url: str
    link: FaultProxy

    def cut(self) -> None:
        self.link.cut()

    def restore(self) -> None:
        self.link.restore()

    async def linked(self) -> bool:
        """Whether alpha reaches bravo's JetStream domain across the leaf node (the link is up)."""
        return await domain_reachable(self.alpha_url, "bravo")


async def _quiet(_exc: Exception) -> None:
    """Refused connections are expected while a server starts."""


async def domain_reachable(url: str, domain: str) -> bool:
    """Whether JetStream domain ``domain`` answers a client of the NATS at ``url``."""
    try:
        client = await nats.connect(url, allow_reconnect=False, connect_timeout=1, error_cb=_quiet)
    except (OSError, nats.errors.Error):
        return False
    try:
        await client.jetstream(domain=domain, timeout=1).account_info()
        return True
    except (OSError, nats.errors.Error):
        return False
    finally:
        await client.close()


async def _started(config: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            nats_binary(), "-c", str(config), stdout=output, stderr=subprocess.STDOUT
        )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


async def wait_for(
    probe: Callable[[], Awaitable[bool]], what: str, within_s: float = START_TIMEOUT_S
) -> None:
    """Poll ``probe`` until it is true; :class:`BenchError` after ``within_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not await probe():
        if loop.time() > deadline:
            raise BenchError(f"{what} not within {within_s:g} s")
        await asyncio.sleep(PROBE_INTERVAL_S)


@asynccontextmanager
async def two_sites(root: Path) -> AsyncIterator[Sites]:
    """Start alpha (hub) and bravo (leaf, through the proxy); stop both and the proxy after."""
    alpha_port, bravo_port, leaf_port = free_ports(3)
    link = FaultProxy(LOOPBACK, leaf_port)
    proxy_port = await link.start()
    processes: list[asyncio.subprocess.Process] = []
    try:
        for site, port, leaf, hub in (
            ("alpha", alpha_port, leaf_port, None),
            ("bravo", bravo_port, None, proxy_port),
        ):
            (root / site).mkdir(parents=True, exist_ok=True)
            config = root / site / "nats.conf"
            store = root / site / "jetstream"
            text = site_config(site, port, store, leaf_port=leaf, hub_port=hub, advertise_port=proxy_port)
            config.write_text(text)
            processes.append(await _started(config, root / site / "nats.log"))
        sites = Sites(f"nats://{LOOPBACK}:{alpha_port}", f"nats://{LOOPBACK}:{bravo_port}", link)
        for url, domain in ((sites.alpha_url, "alpha"), (sites.bravo_url, "bravo")):
            await wait_for(partial(domain_reachable, url, domain), f"JetStream {domain}")
        await wait_for(sites.linked, "the leaf-node link from bravo to alpha")
        yield sites
    finally:
        for process in processes:
            await _stop(process)
        with contextlib.suppress(ConnectionError):
            await link.close()
