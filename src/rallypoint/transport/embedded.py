"""uvicorn as a library inside our event loop: one helper set for every HTTP listener.

The enrollment port, the Marti API ports and the web command post all run uvicorn's server
in the ``rallypoint serve`` loop. We bind each socket ourselves (port 0 works, and a busy
port fails in ``start``, not later in a task), own the serve task, await readiness rather
than sleep for it, and keep signals and logging configuration for the process, which owns
both.
"""

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

from rallypoint.errors import ConfigError

KEEP_ALIVE_S = 5
STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 5.0
"""Requests still running after this long at shutdown are cancelled."""
LISTEN_BACKLOG = 4096


def embedded_config(app: Any, *, log_level: str, limit_concurrency: int, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration as every listener of ours wants it, plus ``options`` (protocol,
    TLS files, WebSocket limits): no logging set-up or access log of its own (the process owns
    logging; each app logs its outcomes once, so floods stay quiet), no lifespan, the peer
    address taken from the socket and never from proxy headers (it is what the audit log
    records and the login throttles count), no ``Server`` header, a bounded number of
    connections, and the shared keep-alive and shutdown times."""
    return uvicorn.Config(
        app,
        log_level=log_level.lower(),
        log_config=None,
        access_log=False,
        lifespan="off",
        proxy_headers=False,
        server_header=False,
        limit_concurrency=limit_concurrency,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_S),
        **options,
    )


class EmbeddedServer(uvicorn.Server):
    """uvicorn's server, telling readiness through an event and leaving signals to us."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would replace SIGINT/SIGTERM handlers and re-raise the signal on exit.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def listening_socket(host: str, port: int, what: str, backlog: int = LISTEN_BACKLOG) -> socket.socket:
    """A bound, listening, non-blocking socket (ConfigError naming ``what`` if it cannot be)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as exc:
        raise ConfigError(f"cannot listen for {what} on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


def serve(server: EmbeddedServer, sockets: list[socket.socket], name: str) -> "asyncio.Task[None]":
    """Start uvicorn's serve loop on ``sockets`` as a task the caller owns."""
    return asyncio.create_task(server.serve(sockets=sockets), name=name)


async def wait_started(
    server: EmbeddedServer, task: "asyncio.Task[None]", sockets: list[socket.socket], what: str
) -> None:
    """Wait until uvicorn is ready; if it fails first, clean up and raise (ConfigError)."""
    ready = asyncio.create_task(server.ready.wait())
    try:
        await asyncio.wait({task, ready}, timeout=STARTUP_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
    if server.ready.is_set():
        return
    server.should_exit = True
    if not task.done():
        task.cancel()
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task  # re-raises what made the start fail
    finally:
        for sock in sockets:
            sock.close()
    raise ConfigError(f"{what} did not start")


async def start_serving(
    config: uvicorn.Config, sockets: list[socket.socket], name: str, what: str
) -> tuple[EmbeddedServer, "asyncio.Task[None]"]:
    """Serve ``config`` on ``sockets`` in a task named ``name``, owned by the caller; return
    once uvicorn accepts (ConfigError naming ``what`` if it fails first)."""
    server = EmbeddedServer(config)
    task = serve(server, sockets, name)
    await wait_started(server, task, sockets, what)
    return server, task


async def stop_serving(server: EmbeddedServer, task: "asyncio.Task[None]") -> None:
    """Stop accepting, let running requests finish (bounded), end the serve task."""
    server.should_exit = True
    try:
        await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_TIMEOUT_S + 1.0)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
