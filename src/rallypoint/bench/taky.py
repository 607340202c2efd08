"""taky, the Python TAK server on PyPI, installed and run as the peer of ``rallypoint bench peers``.

It goes into a scratch virtual environment of its own (our dependencies and its own never meet)
and runs as a child process on a free loopback port, plain TCP, with its data under the bench's
temporary directory; it is stopped by its pid like the bench's own server.
"""

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import NamedTuple

from rallypoint.bench.errors import BenchError
from rallypoint.bench.server import LOOPBACK, free_ports, stop_process, wait_accepting

TAKY_REQUIREMENT = "taky==0.10"
"""The release compared against, pinned so runs on different days compare alike."""
INSTALL_TIMEOUT_S = 600.0
"""Creating the virtual environment and installing taky with its dependencies from PyPI."""
ERROR_TAIL_CHARS = 1500


class TakyServer(NamedTuple):
    """A running taky: where it listens and who it is."""

    pid: int
    port: int
    log_path: Path


def _run(command: list[str], what: str) -> None:
    try:
        # our own interpreter, venv and pinned requirement: no input from outside
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)  # noqa: S603
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"{what} failed:\n{(exc.stderr or exc.stdout)[-ERROR_TAIL_CHARS:]}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"{what} failed: {exc}") from exc


def install_taky(root: Path) -> Path:
    """A new virtual environment under ``root`` with taky installed; returns the environment."""
    venv = root / "taky-venv"
    _run([sys.executable, "-m", "venv", str(venv)], "creating a virtual environment for taky")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, TAKY_REQUIREMENT], f"pip install {TAKY_REQUIREMENT}")
    return venv


def taky_config(port: int, root: Path) -> str:
    """A taky.conf for plain TCP on loopback ``port``, everything it writes under ``root``."""
    return "\n".join(
        [
            "[taky]",
            "hostname = localhost",
            f"bind_ip = {LOOPBACK}",
            f"root_dir = {root}",
            "[cot_server]",
            f"port = {port}",
            "[dp_server]",
            f"upload_path = {root / 'dp-user'}",
            "[ssl]",
            "enabled = false",
            "",
        ]
    )


@asynccontextmanager
async def taky_server(venv: Path, workdir: Path) -> AsyncIterator[TakyServer]:
    """Run taky from ``venv`` for the duration of the block; stop it afterwards."""
    (port,) = free_ports(1)
    config = workdir / "taky.conf"
    config.write_text(taky_config(port, workdir), encoding="utf-8")
    log_path = workdir / "taky.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(venv / "bin" / "taky"),
            "-c",
            str(config),
            "-l",
            "warning",
            cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
        )
    try:
        await wait_accepting(process, [port], log_path)
        yield TakyServer(process.pid, port, log_path)
    finally:
        await stop_process(process)
