"""A server killed with SIGKILL and restarted keeps its history and replays the current picture.

Events are committed by the store's writer within one transaction of arrival (no timer),
so once the database file shows them, a SIGKILL cannot take them back (SQLite WAL).
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rallypoint.bench.server import PORTS_OFF
from tests.interop.clients import delete_xml, marker_xml, pli_xml
from tests.waiting import EVENT_TIMEOUT_S, wait_until

TIMEOUT_S = EVENT_TIMEOUT_S


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    """Wait until ``condition`` holds, failing at once if the server process has died."""

    def holds() -> bool:
        assert process.poll() is None, process.communicate()[0]
        return condition()

    wait_until(holds, TIMEOUT_S, what)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S):
            return True
    except OSError:
        return False


@contextmanager
def _server(
    workdir: Path, port: int, settings: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **PORTS_OFF, "RALLYPOINT_TCP_PORT": str(port), **(settings or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "rallypoint", "serve"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: _accepts(port), f"port {port}", process)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=TIMEOUT_S)


def _stored_uids(database: Path) -> list[str]:
    if not database.exists():
        return []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        try:
            return [row[0] for row in db.execute("SELECT uid FROM events ORDER BY id")]
        except sqlite3.OperationalError:  # schema not created yet
            return []


def _read_until(client: socket.socket, wanted: list[bytes]) -> bytes:
    received = b""
    client.settimeout(TIMEOUT_S)
    deadline = time.monotonic() + TIMEOUT_S
    while not all(item in received for item in wanted) and time.monotonic() < deadline:
        chunk = client.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_sigkill_then_restart_keeps_history_and_replays_the_picture(tmp_path: Path) -> None:
    port = _free_port()
    database = tmp_path / "rallypoint-data" / "rallypoint.sqlite3"
    sent = [
        marker_xml("marker-kept", "device-1", stale_s=3600),
        pli_xml("device-1", "Alpha", stale_s=3600),
        marker_xml("marker-deleted", "device-1", stale_s=3600),
        delete_xml("marker-deleted"),
    ]
    with (
        _server(tmp_path, port) as first,
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sender,
    ):
        sender.sendall(b"".join(sent))
        _wait(lambda: len(_stored_uids(database)) == len(sent), "the events to be stored", first)
        first.send_signal(signal.SIGKILL)  # a crash while the device is connected: no departure recorded
        first.wait(timeout=TIMEOUT_S)
    history = _stored_uids(database)
    assert history[:3] == ["marker-kept", "device-1", "marker-deleted"]
    assert history[3].startswith("delete-")

    with _server(tmp_path, port) as second, socket.create_connection(("127.0.0.1", port)) as client:
        received = _read_until(client, [b'uid="marker-kept"', b'uid="device-1"'])
        assert b'uid="marker-kept"' in received
        assert b'uid="device-1"' in received
        assert b'uid="marker-deleted"' not in received
        second.send_signal(signal.SIGTERM)
        output, _ = second.communicate(timeout=TIMEOUT_S)
    assert second.returncode == 0, output
    assert b"2 cached events and 0 injectors restored" in output
    assert _stored_uids(database) == history
