#!/usr/bin/env python3
"""Install Rallypoint as a user does and check that it serves: the CI step behind "first contact".

Two installs, each in a fresh temporary directory, with nothing but this Python:

1. ``pip install .`` (no extras) into a new virtual environment, then ``rallypoint serve`` in an
   empty directory;
2. a fresh ``git clone`` of this repository's HEAD and ``make run`` in it (without npm, as on a
   machine that has only python3).

Each server is started on free ports (every port setting 0), and then: a plain TCP client must
receive the TAK protocol offer (``t-x-takp-v``), the web command post and the plain Marti API must
answer, and SIGTERM must stop it cleanly. Standard library only: it runs before anything is
installed. Exit status 0 when both pass.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 180.0
"""From launch to the start-up guide in the log (a cold ``make run`` installs first)."""
EVENT_TIMEOUT_S = 60.0
"""For the protocol offer, an HTTP answer and a clean exit: generous, the machine may be loaded."""
PORT_ENV = {
    f"RALLYPOINT_{name}": "0"
    for name in ("TCP_PORT", "UDP_PORT", "TLS_PORT", "ENROLLMENT_PORT", "API_TLS_PORT", "API_PLAIN_PORT")
} | {"RALLYPOINT_WEB_PORT": "0"}
GUIDE_PORTS = {
    "tcp": re.compile(r"plain CoT streaming\s+\S+:(\d+):tcp"),
    "api_plain": re.compile(r"Marti API \(plain\)\s+http://[^:]+:(\d+)/"),
    "web": re.compile(r"web command post\s+https?://[^:]+:(\d+)/"),
}


class CheckFailed(Exception):
    """One check did not pass; the message says which and why."""


class ServerLog:
    """Collects a child's output lines in a thread and lets the caller wait for a pattern."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output
            self._changed.notify_all()

    def wait_for(self, found: Callable[[str], bool], timeout: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: any(found(text) for text in self.lines), timeout):
                raise CheckFailed(f"no {what} within {timeout:.0f} s")

    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, env=env, check=True)


def receive_offer(port: int) -> None:
    """Connect as a plain TAK client and read until the protocol version offer arrives."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=EVENT_TIMEOUT_S) as client:
        while b"t-x-takp-v" not in received:
            chunk = client.recv(65536)
            if not chunk:
                raise CheckFailed(f"the server closed the connection before its offer: {received[:200]!r}")
            received += chunk
    print(f"  protocol offer received on tcp/{port}", flush=True)


def fetch(url: str, expected: bytes) -> None:
    with urllib.request.urlopen(url, timeout=EVENT_TIMEOUT_S) as answer:  # noqa: S310 - loopback only
        body = answer.read()
        if answer.status != 200 or expected not in body:
            raise CheckFailed(f"{url}: status {answer.status}, {body[:200]!r}")
    print(f"  {url} answered", flush=True)


def check_server(command: list[str], cwd: Path, env: dict[str, str], label: str) -> None:
    """Start the server, talk to it, stop it with SIGTERM and check it said goodbye."""
    print(f"== {label}: {' '.join(command)}", flush=True)
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env | PORT_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    log = ServerLog(process)
    try:
        log.wait_for(lambda line: bool(GUIDE_PORTS["web"].search(line)), START_TIMEOUT_S, "start-up guide")
        text = log.text()
        ports = {
            name: int(match.group(1))
            for name, pattern in GUIDE_PORTS.items()
            if (match := pattern.search(text))
        }
        if set(ports) != set(GUIDE_PORTS):
            raise CheckFailed(f"the start-up guide lacks ports {set(GUIDE_PORTS) - set(ports)}")
        receive_offer(ports["tcp"])
        fetch(f"http://127.0.0.1:{ports['web']}/", b"<html")
        fetch(f"http://127.0.0.1:{ports['api_plain']}/Marti/api/version", b"")
        os.killpg(process.pid, signal.SIGTERM)
        log.wait_for(lambda line: "Rallypoint stopped" in line, EVENT_TIMEOUT_S, "clean stop after SIGTERM")
        process.wait(timeout=EVENT_TIMEOUT_S)
        if "Traceback" in log.text():
            raise CheckFailed("a traceback was logged")
    except (CheckFailed, OSError, subprocess.TimeoutExpired) as failure:
        print(log.text(), file=sys.stderr)
        raise CheckFailed(f"{label}: {failure}") from failure
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(f"  {label}: served and stopped cleanly", flush=True)


def check_pip_install(work: Path, env: dict[str, str]) -> None:
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], work)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)], work, env)
    empty = work / "empty"
    empty.mkdir()
    check_server([str(venv / "bin" / "rallypoint"), "serve"], empty, env, "pip install . (no extras)")
    if not (empty / "rallypoint-data").is_dir():
        raise CheckFailed("serve did not create its data directory in the working directory")


def check_make_run(work: Path, env: dict[str, str]) -> None:
    clone = work / "clone"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], work)
    make_env = env | {"PYTHON": sys.executable}
    check_server(["make", "run", "HAVE_NPM="], clone, make_env, "make run in a fresh clone")


def main() -> int:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RALLYPOINT_")}
    env.pop("VIRTUAL_ENV", None)
    work = Path(tempfile.mkdtemp(prefix="rallypoint-install-"))
    try:
        check_pip_install(work, env)
        check_make_run(work, env)
    except (CheckFailed, subprocess.CalledProcessError) as failure:
        print(f"install check failed: {failure}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("install check passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
