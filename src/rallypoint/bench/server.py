"""A Rallypoint server started for one benchmark run, in its own process.

A separate process keeps the load generator's CPU out of the server's numbers and lets us
read the server's memory and CPU from ``/proc``. It gets a free loopback port, a temporary
data directory (and working directory, so no stray ``rallypoint.toml`` is picked up) and
no UDP listener; it is stopped with SIGTERM by its pid, and killed if it does not exit.
"""

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple

from rallypoint.bench.errors import BenchError

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


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the server binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def serve_command(port: int, data_dir: Path, log_level: str) -> list[str]:
    """The ``rallypoint serve`` command line for a bench server."""
    return [
        sys.executable,
        "-m",
        "rallypoint",
        "serve",
        "--host",
        LOOPBACK,
        "--tcp-port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        log_level,
    ]


PORTS_OFF = {"RALLYPOINT_UDP_PORT": "off", "RALLYPOINT_TLS_PORT": "off", "RALLYPOINT_ENROLLMENT_PORT": "off"}
"""Listeners the plain-TCP scenarios do not use: off, so runs never collide on fixed ports."""


@asynccontextmanager
async def spawned_server(log_level: str = "WARNING") -> AsyncIterator[SpawnedServer]:
    """Run a server process for the duration of the block; stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="rallypoint-bench-") as temp:
        workdir = Path(temp)
        port = free_port()
        log_path = workdir / "server.log"
        env = {**os.environ, **PORTS_OFF}
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                *serve_command(port, workdir / "data", log_level),
                cwd=workdir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )
        try:
            await _wait_accepting(process, port, log_path)
            yield SpawnedServer(process.pid, LOOPBACK, port, log_path)
        finally:
            await _stop(process)


async def _wait_accepting(process: asyncio.subprocess.Process, port: int, log_path: Path) -> None:
    """Return once the server accepts connections; fail fast if it exits instead."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while loop.time() < deadline:
        if process.returncode is not None:
            raise BenchError(f"server exited with code {process.returncode}:\n{_log_tail(log_path)}")
        try:
            _, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            await asyncio.sleep(PROBE_INTERVAL_S)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise BenchError(
        f"server did not accept connections within {START_TIMEOUT_S:g} s:\n{_log_tail(log_path)}"
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


def _log_tail(log_path: Path) -> str:
    data = log_path.read_bytes()[-LOG_TAIL_BYTES:]
    return data.decode("utf-8", "replace")
