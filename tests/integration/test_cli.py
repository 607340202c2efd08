"""`rallypoint serve` as a user runs it: an empty directory, defaults, a signal to stop."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rallypoint.bench.server import PORTS_OFF
from tests.waiting import EVENT_TIMEOUT_S, wait_until


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    def listening() -> bool:
        assert process.poll() is None, process.communicate()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=EVENT_TIMEOUT_S):
                return True
        except OSError:
            return False

    wait_until(listening, what=f"port {port} open")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_in_an_empty_directory_then_stop(tmp_path: Path, signum: int) -> None:
    port = _free_port()
    env = {**os.environ, **PORTS_OFF, "RALLYPOINT_TCP_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "rallypoint", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, process)
        with socket.create_connection(("127.0.0.1", port), timeout=EVENT_TIMEOUT_S) as client:
            assert b"t-x-takp-v" in client.recv(4096)
        assert (tmp_path / "rallypoint-data").is_dir()
        process.send_signal(signum)
        output, _ = process.communicate(timeout=EVENT_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert b"Rallypoint stopped" in output


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "rallypoint", "serve", "--tcp-port", str(port)],
            cwd=tmp_path,
            env={**os.environ, **PORTS_OFF},
            capture_output=True,
            timeout=EVENT_TIMEOUT_S * 2,
            check=False,
        )
    assert result.returncode == 2
    assert b"cannot listen" in result.stderr
    assert b"Traceback" not in result.stderr


def test_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rallypoint", "serve"],
        cwd=tmp_path,
        env={**os.environ, "RALLYPOINT_TCP_PORT": "eighty"},
        capture_output=True,
        timeout=EVENT_TIMEOUT_S * 2,
        check=False,
    )
    assert result.returncode == 2
    assert b"tcp_port" in result.stderr
