"""A device behind a real link: a network namespace joined to this one by a veth pair (root only).

The user-space proxy is a middlebox (it acknowledges bytes for the device), so it cannot
show a device that walks out of coverage. Here the device's sockets live in their own
namespace, reached over a veth pair on a private /30 of 10.0.0.0/8 chosen per test; the
server listens on the host end. ``blackhole`` takes the device's end of the link down:
nothing, not even a FIN or RST, reaches the server any more, exactly as when a radio leaves
coverage. ``throttle`` puts a token bucket (``tbf``; this kernel has no ``netem``) on the
server-to-device direction.

A socket belongs to the namespace of the thread that created it, so :meth:`Namespace.connect`
creates it on a short-lived thread that has entered the namespace (``setns``) and hands it to
asyncio in the caller's loop. :meth:`Namespace.destroy` removes the namespace and link.
"""

import asyncio
import contextlib
import ctypes
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import threading
from pathlib import Path

NETNS_DIR = Path("/run/netns")
"""Where iproute2 keeps a named namespace's handle (``ip netns add``)."""

CLONE_NEWNET = 0x40000000
"""``setns`` flag for a network namespace (linux/sched.h)."""

TOOL_TIMEOUT_S = 10.0
"""An ``ip`` or ``tc`` command that takes longer than this fails."""

CONNECT_TIMEOUT_S = 30.0
"""A connect over the link that takes longer than this fails (its SYN-ACK may wait behind a
token bucket's queue)."""

TBF_BURST_BYTES = 1600
"""The token bucket's depth: about one full-size packet, so the rate holds from the first byte."""

SUBNET_TRIES = 20
"""Random /30s tried before giving up on finding one this machine does not use."""

_serial = itertools.count(1)
"""Numbers the namespaces this process makes (with the pid, their names are unique here)."""


class NamespaceError(Exception):
    """A namespace or its link could not be made."""


def _run(tool: str, *args: str) -> str:
    """Run an iproute2 tool found on the PATH; its output (CalledProcessError if it failed)."""
    path = shutil.which(tool)
    if path is None:
        raise NamespaceError(f"{tool} is not installed")
    done = subprocess.run(  # noqa: S603 - only our own interface names, addresses and numbers
        [path, *args], check=True, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S
    )
    return done.stdout


def _ip(*args: str) -> None:
    _run("ip", *args)


def _addresses_in_use() -> str:
    return _run("ip", "-4", "-o", "addr")


def _mac(link: str) -> str:
    """The hardware address in one line of ``ip -o link show``."""
    words = link.split()
    if "link/ether" not in words:
        raise NamespaceError(f"no hardware address in {link!r}")
    return words[words.index("link/ether") + 1]


def _free_subnet() -> tuple[str, str]:
    """Host and device addresses of a /30 in 10.128.0.0/9 that no interface here uses."""
    in_use = _addresses_in_use()
    for _ in range(SUBNET_TRIES):
        second, third, fourth = (
            128 + secrets.randbelow(128),
            secrets.randbelow(256),
            4 * secrets.randbelow(64),
        )
        prefix = f"10.{second}.{third}."
        if f" {prefix}" not in in_use:
            return f"{prefix}{fourth + 1}", f"{prefix}{fourth + 2}"
    raise NamespaceError("no free /30 found for a namespace")


class Namespace:
    """One namespace, its veth pair and the addresses of both ends."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100_000}x{next(_serial)}"
        self.name = f"rallypoint-{tag}"
        self.host_dev, self.device_dev = f"rph{tag}", f"rpd{tag}"
        self.host_address, self.device_address = _free_subnet()
        self.bytes_per_s: int | None = None
        """The token bucket's rate, while one limits the link."""
        self.queue_s = 0.0

    def create(self) -> None:
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_dev, "type", "veth", "peer", "name", self.device_dev, "netns", self.name)
        _ip("addr", "add", f"{self.host_address}/30", "dev", self.host_dev)
        _ip("link", "set", self.host_dev, "up")
        _ip("-n", self.name, "addr", "add", f"{self.device_address}/30", "dev", self.device_dev)
        _ip("-n", self.name, "link", "set", self.device_dev, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")
        self._pin_neighbours()

    def _pin_neighbours(self) -> None:
        """Fixed ARP entries at both ends: an ARP answer queued behind a throttled link's backlog
        would time out and make a reconnect fail with "no route to host"."""
        host_mac = _mac(_run("ip", "-o", "link", "show", "dev", self.host_dev))
        device_mac = _mac(_run("ip", "-n", self.name, "-o", "link", "show", "dev", self.device_dev))
        _ip(
            "neigh",
            "replace",
            self.device_address,
            "lladdr",
            device_mac,
            "dev",
            self.host_dev,
            "nud",
            "permanent",
        )
        _ip(
            "-n",
            self.name,
            "neigh",
            "replace",
            self.host_address,
            "lladdr",
            host_mac,
            "dev",
            self.device_dev,
            "nud",
            "permanent",
        )

    def destroy(self) -> None:
        """Remove the link (both ends) and the namespace; what is already gone is skipped."""
        for args in (("link", "del", self.host_dev), ("netns", "del", self.name)):
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip(*args)

    def blackhole(self) -> None:
        """The device leaves coverage: its end of the link goes down, nothing crosses any more.

        A token bucket is taken off first: packets held in its queue count as not yet sent, so
        the kernel would never count a retransmission as failed and ``TCP_USER_TIMEOUT`` would
        never fire (what the queue held was unacknowledged, so the server keeps it again)."""
        if self.bytes_per_s is not None:
            _run("tc", "qdisc", "del", "dev", self.host_dev, "root")
        _ip("-n", self.name, "link", "set", self.device_dev, "down")

    def restore(self) -> None:
        _ip("-n", self.name, "link", "set", self.device_dev, "up")
        self._pin_neighbours()  # taking the link down flushed the device's entry
        if self.bytes_per_s is not None:
            self.throttle(self.bytes_per_s, self.queue_s)

    def throttle(self, bytes_per_s: int, queue_s: float = 30.0) -> None:
        """Limit server-to-device bytes per second with a token bucket on the host end; packets that
        would wait in its queue longer than ``queue_s`` are dropped (TCP sends them again)."""
        self.bytes_per_s, self.queue_s = bytes_per_s, queue_s
        bucket = ["rate", f"{bytes_per_s * 8}bit", "burst", str(TBF_BURST_BYTES), "latency", f"{queue_s:g}s"]
        _run("tc", "qdisc", "replace", "dev", self.host_dev, "root", "tbf", *bucket)

    async def connect(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A stream from inside the namespace to the server at the host end."""
        sock = await asyncio.to_thread(self._socket_inside, port)
        return await asyncio.open_connection(sock=sock)

    def _socket_inside(self, port: int) -> socket.socket:
        """Create and connect a socket on a new thread that entered the namespace (it then ends)."""
        made: list[socket.socket | BaseException] = []

        def inside() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                handle = os.open(NETNS_DIR / self.name, os.O_RDONLY)
                try:
                    if libc.setns(handle, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(handle)
                made.append(socket.create_connection((self.host_address, port), CONNECT_TIMEOUT_S))
            except BaseException as exc:  # noqa: BLE001 - the thread's outermost boundary: re-raised by the caller
                made.append(exc)

        thread = threading.Thread(target=inside, name=f"in-{self.name}")
        thread.start()
        thread.join()
        result = made[0]
        if isinstance(result, BaseException):
            raise result
        result.setblocking(False)
        return result


def namespaces_unavailable() -> str | None:
    """Why this machine cannot make test namespaces, or None if it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    return None
