"""Admin commands take effect on a running server: both are real processes on one data directory.

``rallypoint serve`` runs as a subprocess with every identity listener on (streaming TLS,
Marti API, enrollment, web), and the test runs the ``rallypoint`` admin commands as an operator
would in another terminal, over and over: a user added and a certificate issued are let in at
once; a certificate revoked or a user disabled is cut off and refused after; new groups reach
the open connection. Afterwards the identity database is intact, and the server holds one
descriptor of it and no deleted WAL (what several stores in one process used to cause).
"""

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.conftest import tls_refused
from tests.interop.clients import HOST, READ_SIZE, Predicate, TakClient, has_type, has_uid, pli_xml
from tests.waiting import eventually

ITERATIONS = 15
"""Users made, let in and cut off, one after the other, each by its own admin commands."""
ACTIONS = ("revoke", "disable", "groups")
TIMEOUT_S = 30.0
"""Bound on every wait for an event (a loaded machine is slow, not wrong)."""
PASSWORD = "correct horse"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


async def _until(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    """Wait for ``condition`` while the server runs; fail at once if it exits."""

    def met() -> bool:
        assert process.poll() is None, f"the server exited while waiting for {what}"
        return condition()

    await eventually(met, TIMEOUT_S, what)


@dataclass
class Live:
    """The running server, its settings file and data directory, and the clients' files."""

    workdir: Path
    ports: dict[str, int]
    process: subprocess.Popen[bytes]
    clients: list[TakClient] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    @property
    def files(self) -> Path:
        return self.workdir / "clients"

    async def admin(self, *args: str, stdin: str = "") -> str:
        """``rallypoint ARGS --config … --data-dir …`` in its own process; its output."""
        command = [sys.executable, "-m", "rallypoint", *args]
        command += ["--config", str(self.workdir / "rallypoint.toml"), "--data-dir", str(self.data)]
        result = await asyncio.to_thread(
            subprocess.run,
            command,
            cwd=self.workdir,
            env=_environment(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    async def enrol(self, name: str, *groups: str) -> None:
        """``user add`` then ``cert issue``: the user's PEM files land in :attr:`files`."""
        group_args = [arg for group in groups for arg in ("--group", group)]
        await self.admin("user", "add", name, *group_args, stdin=f"{PASSWORD}\n")
        await self.admin("cert", "issue", name, "--out", str(self.files))

    async def packaged(self, name: str, *groups: str) -> None:
        """``user add`` then ``package``: the certificate and key come out of the zip's keystore."""
        group_args = [arg for group in groups for arg in ("--group", group)]
        await self.admin("user", "add", name, *group_args, stdin=f"{PASSWORD}\n")
        wrote, secret = (await self.admin("package", name, "--out", str(self.workdir))).splitlines()[:2]
        with zipfile.ZipFile(wrote.removeprefix("wrote ")) as archive:
            keystore = archive.read(f"certs/{name}.p12")
        key, certificate, _ = pkcs12.load_key_and_certificates(keystore, secret.split(": ", 1)[1].encode())
        assert key is not None
        assert certificate is not None
        (self.files / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        (self.files / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def context(self, name: str) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.data / "pki" / "ca.pem")
        context.load_cert_chain(self.files / f"{name}.pem", self.files / f"{name}.key")
        return context

    async def connect(self, name: str) -> TakClient:
        """A streaming client with ``name``'s certificate, once the server's offer arrived."""
        reader, writer = await asyncio.open_connection(
            HOST, self.ports["tls"], ssl=self.context(name), server_hostname="localhost", limit=READ_SIZE
        )
        client = TakClient(reader, writer, name)
        self.clients.append(client)
        await client.receive(has_type("t-x-takp-v"), TIMEOUT_S)
        return client

    async def refused(self, name: str) -> bool:
        """True when a new connection with ``name``'s certificate gets no byte from the server."""
        return await tls_refused(self.ports["tls"], self.context(name), TIMEOUT_S)

    async def api_version(self, name: str) -> int:
        """Status of ``GET /Marti/api/version`` on the API port with ``name``'s certificate."""
        base = f"https://{HOST}:{self.ports['api']}"
        async with httpx.AsyncClient(base_url=base, verify=self.context(name), timeout=TIMEOUT_S) as api:
            return (await api.get("/Marti/api/version")).status_code

    async def web_login(self, name: str, password: str) -> int:
        """Status of a password login on the web port."""
        base = f"http://{HOST}:{self.ports['web']}"
        async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S) as web:
            response = await web.post("/api/login", json={"username": name, "password": password})
            return response.status_code


def _environment() -> dict[str, str]:
    """The test's environment without any RALLYPOINT_* setting: the file decides."""
    return {key: value for key, value in os.environ.items() if not key.startswith("RALLYPOINT_")}


def _settings_file(path: Path, ports: dict[str, int]) -> None:
    path.write_text(
        "[rallypoint]\n"
        f"tcp_port = {ports['tcp']}\n"
        'udp_port = "off"\n'
        f"tls_port = {ports['tls']}\n"
        f"api_tls_port = {ports['api']}\n"
        f"enrollment_port = {ports['enrollment']}\n"
        f"web_port = {ports['web']}\n"
        'api_plain_port = "off"\n'
        'hostnames = "localhost,127.0.0.1"\n'
    )


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    ports = {name: _free_port() for name in ("tcp", "tls", "api", "enrollment", "web")}
    _settings_file(tmp_path / "rallypoint.toml", ports)
    (tmp_path / "clients").mkdir()
    log = (tmp_path / "server.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "rallypoint",
        "serve",
        "--config",
        "rallypoint.toml",
        "--data-dir",
        "data",
    ]
    process = await asyncio.to_thread(
        subprocess.Popen, command, cwd=tmp_path, env=_environment(), stdout=log, stderr=subprocess.STDOUT
    )
    server = Live(tmp_path, ports, process)
    try:
        await _until(lambda: _accepts(ports["web"]), "the web port, opened last", process)
        yield server
    finally:
        for client in server.clients:
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await client.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()


def _descriptors(pid: int) -> list[str]:
    """What the process's open file descriptors point at."""
    links = []
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed while we looked
            links.append(os.readlink(entry))
    return links


def _departure_of(uid: str) -> Predicate:
    """The ``t-x-d-d`` the server sends the others when ``uid``'s connection ends."""
    link = f'uid="{uid}"'
    return lambda message: message.type == "t-x-d-d" and link in message.detail


async def _cut_off(live: Live, name: str, action: str) -> None:
    """The admin command that takes ``name``'s right to connect away: a revocation, or disabling."""
    if action == "disable":
        await live.admin("user", "disable", name)
    else:
        await live.admin("cert", "revoke", name)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads the server's descriptors in /proc")
async def test_admin_commands_take_effect_on_the_running_server(live: Live) -> None:
    await live.enrol("scout", "other")
    scout = await live.connect("scout")
    await scout.send(pli_xml("SCOUT", "Scout", stale_s=3600))
    await live.packaged("lookout", "team")
    lookout = await live.connect("lookout")

    for i in range(ITERATIONS):
        name, uid, action = f"u{i}", f"U-{i}", ACTIONS[i % len(ACTIONS)]
        await live.enrol(name, "team")
        client = await live.connect(name)  # a certificate issued a moment ago is let in at once
        await client.send(pli_xml(uid, f"Unit {i}"))
        assert (await lookout.receive(has_uid(uid), TIMEOUT_S)).callsign == f"Unit {i}"
        assert await live.api_version(name) == 200
        if action == "groups":
            await live.admin("user", "groups", name, "--group", "other")
            replayed = await client.receive(has_uid("SCOUT"), TIMEOUT_S)  # the picture of its new group
            assert replayed.callsign == "Scout"
            await client.send(pli_xml(uid, f"Unit {i} moved"))
            assert (await scout.receive(has_uid(uid), TIMEOUT_S)).callsign == f"Unit {i} moved"
        await _cut_off(live, name, action)
        assert await client.closed_by_server(TIMEOUT_S)
        assert await live.refused(name)
        if action == "groups":
            continue
        await lookout.receive(_departure_of(uid), TIMEOUT_S)  # the others see it leave
        if action == "disable":
            await live.admin("user", "enable", name)
            again = await live.connect(name)  # its certificate was never revoked
            await again.send(pli_xml(uid, f"Unit {i} again"))
            assert (await lookout.receive(has_uid(uid), TIMEOUT_S)).callsign == f"Unit {i} again"

    await live.admin("user", "passwd", "lookout", stdin="a new password\n")
    assert await live.web_login("lookout", "a new password") == 200
    assert await live.web_login("lookout", PASSWORD) == 401

    links = _descriptors(live.process.pid)
    database = str((live.data / "identity.sqlite3").resolve())
    assert links.count(database) == 1, "one identity store in the server process"
    assert [link for link in links if "identity.sqlite3" in link and "(deleted)" in link] == []
    with contextlib.closing(sqlite3.connect(live.data / "identity.sqlite3")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        users = db.execute("SELECT count(*) FROM users").fetchone()[0]
    assert users == ITERATIONS + 2
    live.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(live.process.wait, TIMEOUT_S) == 0
    log = (live.workdir / "server.log").read_text()
    assert "Rallypoint stopped" in log
    assert "malformed" not in log
    assert "store_error" not in log
    assert "Traceback" not in log
