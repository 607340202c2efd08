"""A Rallypoint server started for one benchmark run, in its own process.

A separate process keeps the load generator's CPU out of the server's numbers and lets us
read the server's memory and CPU from ``/proc``. It gets a free loopback port, a temporary
data directory (and working directory, so no stray ``rallypoint.toml`` is picked up) and
no UDP listener; it is stopped with SIGTERM by its pid, and killed if it does not exit.

With TLS, the data directory is prepared before the server starts (its certificate
authority and the bench's identities, see :mod:`rallypoint.bench.tls`), and the server
listens for mutual TLS on a second free port beside plain TCP; enrollment stays off.
"""

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from rallypoint.bench.errors import BenchError
from rallypoint.bench.route import Route
from rallypoint.bench.tls import SERVER_HOSTNAMES, TlsIdentities, prepare_server_pki

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 20.0
"""The server imports lxml and protobuf and binds; a few seconds at most on a slow machine."""
PROBE_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 15.0
"""A graceful stop flushes every connection; after this the server is killed."""
LOG_TAIL_BYTES = 2000


class SpawnedServer(NamedTuple):
    """Where the benchmark's own server listens, and who it is."""

    pid: int
    host: str
    port: int
    log_path: Path
    tls_port: int | None = None
    tls: TlsIdentities | None = None
    """The bench's identities on this server (TLS on)."""
    api_port: int | None = None
    """The plain Marti/REST API port, when asked for."""

    @property
    def plain_route(self) -> Route:
        """Plain TCP to this server."""
        return Route.plain(self.host, self.port)

    @property
    def tls_route(self) -> Route:
        """Mutual TLS to this server, each sender with its own identity."""
        if self.tls is None or self.tls_port is None:
            raise BenchError("the bench server was started without TLS")
        return self.tls.route(self.host, self.tls_port)


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct TCP ports nobody listens on right now (the server binds them moments later)."""
    with contextlib.ExitStack() as stack:
        probes = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)
        ]
        for probe in probes:
            probe.bind((host, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def serve_command(
    port: int, data_dir: Path, log_level: str, host: str = LOOPBACK, profile: Path | None = None
) -> list[str]:
    """The ``rallypoint serve`` command line for a bench server (under cProfile if ``profile``)."""
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
    return [
        sys.executable,
        *profiler,
        "-m",
        "rallypoint",
        "serve",
        "--host",
        host,
        "--tcp-port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        log_level,
    ]


PORTS_OFF = {
    "RALLYPOINT_UDP_PORT": "off",
    "RALLYPOINT_TLS_PORT": "off",
    "RALLYPOINT_ENROLLMENT_PORT": "off",
    "RALLYPOINT_API_TLS_PORT": "off",
    "RALLYPOINT_API_PLAIN_PORT": "off",
    "RALLYPOINT_WEB_PORT": "off",
}
"""Listeners the plain-TCP scenarios do not use: off, so runs never collide on fixed ports."""


def tls_environment(tls_port: int) -> dict[str, str]:
    """Settings of a TLS bench server: mutual TLS on ``tls_port``, the names its certificate carries."""
    return {"RALLYPOINT_TLS_PORT": str(tls_port), "RALLYPOINT_HOSTNAMES": ",".join(SERVER_HOSTNAMES)}


@asynccontextmanager
async def spawned_server(
    log_level: str = "WARNING",
    *,
    tls_senders: int | None = None,
    store: bool = True,
    api: bool = False,
    settings: Mapping[str, str] | None = None,
    profile: Path | None = None,
) -> AsyncIterator[SpawnedServer]:
    """Run a server process for the duration of the block; stop it afterwards.

    ``tls_senders`` not None turns TLS on, with one identity per sender and one for all receivers.
    ``store`` False runs it with ``store_url = off`` (nothing persisted); ``api`` opens the
    plain API port too (:attr:`SpawnedServer.api_port`). ``settings`` are more ``RALLYPOINT_*``
    variables (a cluster node's). ``profile`` runs it under cProfile, written there when it stops.
    """
    with tempfile.TemporaryDirectory(prefix="rallypoint-bench-") as temp:
        workdir = Path(temp)
        data_dir = workdir / "data"
        port, spare_port, api_port = free_ports(3)
        log_path = workdir / "server.log"
        env = {**os.environ, **PORTS_OFF, **(settings or {})}
        if not store:
            env["RALLYPOINT_STORE_URL"] = "off"
        if api:
            env["RALLYPOINT_API_PLAIN_PORT"] = str(api_port)
        tls: TlsIdentities | None = None
        tls_port: int | None = None
        if tls_senders is not None:
            tls_port = spare_port
            tls = await asyncio.to_thread(
                prepare_server_pki, data_dir, workdir / "clients", tls_senders, datetime.now(UTC)
            )
            env.update(tls_environment(tls_port))
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                *serve_command(port, data_dir, log_level, profile=profile),
                cwd=workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        try:
            waited = [port, *([tls_port] if tls_port else []), *([api_port] if api else [])]
            await wait_accepting(process, waited, log_path)
            yield SpawnedServer(
                process.pid, LOOPBACK, port, log_path, tls_port, tls, api_port if api else None
            )
        finally:
            await stop_process(process)


async def wait_accepting(
    process: asyncio.subprocess.Process, ports: Sequence[int], log_path: Path, host: str = LOOPBACK
) -> None:
    """Return once the server accepts connections on every port; fail fast if it exits instead.

    A probe of the TLS port closes without a handshake: the server logs it as refused.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    waiting = list(ports)
    while loop.time() < deadline:
        if process.returncode is not None:
            raise BenchError(f"server exited with code {process.returncode}:\n{_log_tail(log_path)}")
        try:
            _, writer = await asyncio.open_connection(host, waiting[0])
        except OSError:
            await asyncio.sleep(PROBE_INTERVAL_S)
            continue
        writer.close()
        await writer.wait_closed()
        waiting.pop(0)
        if not waiting:
            return
    raise BenchError(
        f"server did not accept connections within {START_TIMEOUT_S:g} s:\n{_log_tail(log_path)}"
    )


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


def _log_tail(log_path: Path) -> str:
    data = log_path.read_bytes()[-LOG_TAIL_BYTES:]
    return data.decode("utf-8", "replace")
