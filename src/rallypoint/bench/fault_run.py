"""One run of ``rallypoint bench faults``: devices, a bad link, kill -9 of the server, restarts.

The server runs in its own process on a fixed loopback port and data directory, so a
restart after ``SIGKILL`` finds its store (and its kept mail) as a real restart would. The
devices are of three kinds: healthy (connected directly), bad (behind the loopback
:class:`~rallypoint.bench.faultproxy.FaultProxy`: throttled, stalled once, reset between
bursts and cut by every kill) and offline (they bind once, leave, and return only at the
end). One sender writes numbered direct chats to them, phase after phase:

1. ``baseline``: paced chats to the healthy devices alone, their latency measured;
2. ``bad link``: the bad devices attach; the same paced chats to all of them, the link
   stalled half-way, the healthy devices' latency measured again;
3. ``kept``: a burst to the offline devices; committed messages/s from the first chat
   written to the last ``b-t-f-p`` answer;
4. ``kills``: bursts to every device, the server killed with ``SIGKILL`` at a point drawn
   from the seed, then restarted, and everyone reconnects;
5. ``return``: the offline devices come back; a last chat to every device is waited for.

With ``--netns`` (root) the bad devices are in a network namespace behind a real veth link
with a token bucket (:mod:`rallypoint.bench.netns`) instead of the proxy: the stall is the
link down for a second, and between phases 3 and 4 the devices walk out of coverage with
their backlog still crossing the link (no FIN or RST reaches the server; chats to them
continue until the server keeps one) and come back on new connections. The server then runs
with short keepalive and user-timeout settings so that it notices within seconds.

Every phase is bounded in count (``--chats`` per device) and every wait in time.
"""

import asyncio
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

from rallypoint.bench.errors import BenchError
from rallypoint.bench.fault_clients import Client, Device, Sender, ignore_acceptance
from rallypoint.bench.faultproxy import FaultProxy
from rallypoint.bench.netns import Namespace, NamespaceError, namespaces_unavailable
from rallypoint.bench.results import Latency
from rallypoint.bench.server import (
    LOOPBACK,
    PORTS_OFF,
    free_ports,
    serve_command,
    stop_process,
    wait_accepting,
)

WAIT_S = 120.0
"""The longest wait for one condition (a bad link at a few KB/s draining its backlog)."""
POLL_S = 0.01
PACE_S = 0.005
"""Between rounds of paced chats (one to each device): latency without a queue of our own."""
STALL_S = 1.0
"""How long the bad link stops forwarding in the middle of the ``bad link`` phase."""
PROBE_S = 0.5
"""Between chats to devices out of coverage, until the server keeps one."""
DRAIN_EVERY = 20
"""Chats written between two waits for the sender's socket to take them."""


class Options(NamedTuple):
    devices: int
    offline: int
    bad: int
    chats: int
    """Per device and phase."""
    kills: int
    seed: int
    throttle_bytes_per_s: int
    log_level: str = "WARNING"
    netns: bool = False
    """The bad devices behind a real link (a network namespace, root only) instead of the proxy."""


class Observed(NamedTuple):
    """What the run saw, for the report to count."""

    sender: Sender
    devices: list[Device]
    latency_without: Latency
    latency_with: Latency
    kept: int
    kept_s: float
    kill_points: list[int]


class ServerProcess:
    """``rallypoint serve`` on one address, port and data directory, killed and started again at will."""

    def __init__(self, workdir: Path, host: str, port: int, log_level: str, settings: dict[str, str]) -> None:
        self.workdir, self.host, self.port, self.log_level = workdir, host, port, log_level
        self.settings = settings
        """``RALLYPOINT_*`` environment settings beyond the ports turned off."""
        self.log_path = workdir / "server.log"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self._process = await asyncio.create_subprocess_exec(
                *serve_command(self.port, self.workdir / "data", self.log_level, self.host),
                cwd=self.workdir,
                env={**os.environ, **PORTS_OFF, **self.settings},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        await wait_accepting(self._process, [self.port], self.log_path, self.host)

    def kill(self) -> None:
        """``SIGKILL`` at once: no flush, no goodbye, as a power cut or the OOM killer would."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()

    async def killed(self) -> None:
        """Wait until the killed process is gone."""
        if self._process is not None:
            await self._process.wait()

    async def stop(self) -> None:
        if self._process is not None:
            await stop_process(self._process)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition``; :class:`BenchError` naming ``what`` if it is still false after :data:`WAIT_S`."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: still waiting after {WAIT_S:g} s")
        await asyncio.sleep(POLL_S)


def has_all(device: Device, sender: Sender) -> bool:
    return set(sender.sent.get(device.callsign, ())) <= device.first_arrival_ns.keys()


class FaultRun:
    """The clients, the server process and the proxy of one run."""

    def __init__(
        self,
        options: Options,
        server: ServerProcess,
        proxy: FaultProxy,
        proxy_port: int,
        namespace: Namespace | None,
    ) -> None:
        self.options, self.server, self.proxy, self.proxy_port = options, server, proxy, proxy_port
        self.namespace = namespace
        self.rng = random.Random(options.seed)
        healthy = options.devices - options.offline - options.bad
        self.sender = Sender("RPBENCH-POST", "bench-post")
        self.healthy = [Device(f"RPBENCH-H{n}", f"healthy-{n}") for n in range(healthy)]
        self.bad = [Device(f"RPBENCH-B{n}", f"bad-{n}") for n in range(options.bad)]
        self.offline = [Device(f"RPBENCH-O{n}", f"offline-{n}") for n in range(options.offline)]
        for device in self.bad:
            device.namespace = namespace

    def _port(self, client: Client) -> int:
        return self.proxy_port if client in self.bad and self.namespace is None else self.server.port

    async def connect(self, clients: Iterable[Client]) -> None:
        """Connect ``clients`` (the sender first if among them) and wait until each is bound."""
        clients = list(clients)
        for client in clients:
            await client.connect(self.server.host, self._port(client))
        sender = self.sender
        await until(
            lambda: all(sender.links_seen.get(c.uid, 0) >= c.links for c in clients if c is not sender),
            "devices announcing themselves",
        )

    async def paced(self, devices: list[Device], stall_half_way: bool) -> list[int]:
        """``chats`` rounds of one chat to each device; the healthy devices' latencies (ns)."""
        uids: list[str] = []
        stalled: asyncio.Task[None] | None = None
        for number in range(self.options.chats):
            if stall_half_way and number == self.options.chats // 2:
                stalled = asyncio.create_task(self.stall())
            for device in devices:
                uid = self.sender.send_chat(device.callsign)
                if device in self.healthy:
                    uids.append(uid)
            await self.sender.drain()
            await asyncio.sleep(PACE_S)
        await until(lambda: all(has_all(d, self.sender) for d in self.healthy), "healthy devices served")
        if stalled is not None:
            await stalled  # the link is back before the next phase
        arrival = {uid: t for d in self.healthy for uid, t in d.first_arrival_ns.items()}
        return [arrival[uid] - self.sender.written_ns[uid] for uid in uids]

    async def stall(self) -> None:
        """The bad link carries nothing for :data:`STALL_S` (a namespace link: out of coverage for
        less than the user timeout, so the connections survive)."""
        if self.namespace is not None:
            self.namespace.blackhole()
        else:
            self.proxy.stall()
        await asyncio.sleep(STALL_S)  # the fault's length, not a wait for an event
        if self.namespace is not None:
            self.namespace.restore()
        else:
            self.proxy.resume()

    async def burst(self, devices: list[Device], written: set[str]) -> set[str]:
        """``chats`` to each device, flat out; each uid goes into ``written`` before it is written.
        The burst ends early if the server ends the sender's connection (killed mid-burst)."""
        for _ in range(self.options.chats):
            for device in devices:
                if not self.sender.writable:
                    return written
                written.add(self.sender.next_uid(device.callsign))
                self.sender.send_chat(device.callsign)
                if len(written) % DRAIN_EVERY == 0:
                    await self.sender.drain()
        await self.sender.drain()
        return written

    async def burst_and_kill(self, devices: list[Device], point: int) -> None:
        """A burst to ``devices``; the server is killed the moment the ``point``-th of it is seen
        accepted (kept or delivered), with the rest still being read, routed and committed."""
        accepted: set[str] = set()
        burst: set[str] = set()

        def seen(uid: str) -> None:
            if uid in burst and len(accepted) < point:
                accepted.add(uid)
                if len(accepted) == point:
                    self.server.kill()

        for client in (self.sender, *devices):
            client.on_accepted = seen
        try:
            await self.burst(devices, burst)
            await until(lambda: len(accepted) >= point, "the kill point")
            await self.server.killed()
        finally:
            for client in (self.sender, *devices):
                client.on_accepted = ignore_acceptance

    async def out_of_coverage(self, namespace: Namespace) -> None:
        """The bad devices walk out of coverage with their backlog still crossing the link: no FIN
        or RST reaches the server. A chat to each every half second until the server keeps one
        (it has noticed the dead link); then the devices drop their old sockets and come back."""
        namespace.blackhole()
        sender, deadline = self.sender, time.monotonic() + WAIT_S
        probes: set[str] = set()
        while not probes & sender.kept:
            if time.monotonic() > deadline:
                raise BenchError(f"the dead link still unnoticed after {WAIT_S:g} s")
            probes |= {sender.send_chat(device.callsign) for device in self.bad}
            await sender.drain()
            await asyncio.sleep(PROBE_S)
        for device in self.bad:
            await device.disconnect()
        namespace.restore()

    async def run(self) -> Observed:
        sender, everyone = self.sender, [*self.healthy, *self.bad, *self.offline]
        await self.connect([sender, *self.healthy, *self.offline])
        for device in self.offline:
            await device.disconnect()
        latency_without = Latency.from_samples(await self.paced(self.healthy, stall_half_way=False))

        await self.connect(self.bad)
        latency_with = Latency.from_samples(await self.paced([*self.healthy, *self.bad], stall_half_way=True))

        started = time.perf_counter()
        burst = await self.burst(self.offline, set())
        await until(lambda: burst <= sender.kept | sender.refused, "kept mail answered")
        kept_s = time.perf_counter() - started
        kept = len(burst & sender.kept)

        if self.namespace is not None:
            await self.out_of_coverage(self.namespace)
        else:
            await until(lambda: all(has_all(d, sender) for d in self.bad), "the bad link drained")
            self.proxy.reset()  # between bursts: the proxy holds nothing
        await self.connect(self.bad)

        kill_points = []
        online = [*self.healthy, *self.bad]
        for _ in range(self.options.kills):
            point = self.rng.randrange(1, self.options.chats * len(everyone) + 1)
            kill_points.append(point)
            await self.burst_and_kill(everyone, point)
            for client in (sender, *online):
                await client.disconnect()
            await self.server.start()
            await self.connect([sender, *online])

        await self.connect([*self.offline, *(d for d in online if not d.connected)])  # dropped as too slow
        markers = {device.uid: sender.send_chat(device.callsign) for device in everyone}
        await sender.drain()
        await until(lambda: all(markers[d.uid] in d.first_arrival_ns for d in everyone), "the last chats")
        for client in (sender, *everyone):
            await client.disconnect()
        return Observed(sender, everyone, latency_without, latency_with, kept, kept_s, kill_points)


NAMESPACE_TIMERS = {
    "RALLYPOINT_TCP_KEEPALIVE_IDLE_S": "2",
    "RALLYPOINT_TCP_KEEPALIVE_INTERVAL_S": "1",
    "RALLYPOINT_TCP_KEEPALIVE_PROBES": "2",
    "RALLYPOINT_TCP_USER_TIMEOUT_S": "10",
}
"""With a namespace link the server finds a dead one within seconds, so the run stays short; the
user timeout is twice :data:`LINK_QUEUE_S`, so a slow but live link is not taken for a dead one."""

LINK_QUEUE_S = 5.0
"""The namespace link's token bucket drops what would wait longer than this (a thin link's
buffer, not a bufferbloat of minutes)."""


async def run_faults(options: Options) -> Observed:
    """Start the server, the proxy (and the namespace link), run every phase, stop them all."""
    namespace = None
    if options.netns:
        reason = namespaces_unavailable()
        if reason is not None:
            raise BenchError(f"--netns: {reason}")
        namespace = Namespace()
        try:
            namespace.create()
            namespace.throttle(options.throttle_bytes_per_s, LINK_QUEUE_S)
        except (subprocess.CalledProcessError, NamespaceError) as exc:
            namespace.destroy()
            raise BenchError(f"--netns: cannot make the link: {exc}") from exc
    try:
        with tempfile.TemporaryDirectory(prefix="rallypoint-bench-faults-") as temp:
            host = LOOPBACK if namespace is None else namespace.host_address
            timers = {} if namespace is None else NAMESPACE_TIMERS
            server = ServerProcess(Path(temp), host, free_ports(1)[0], options.log_level, timers)
            await server.start()
            proxy = FaultProxy(host, server.port)
            try:
                proxy_port = await proxy.start()
                proxy.throttle(options.throttle_bytes_per_s)
                return await FaultRun(options, server, proxy, proxy_port, namespace).run()
            finally:
                await proxy.close()
                await server.stop()
    finally:
        if namespace is not None:
            namespace.destroy()
