"""Shared fixtures: fixture files, a real server on 127.0.0.1 with ephemeral ports, and for TLS
a certificate authority with enrolled identities in a temporary data directory."""

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from rallypoint.config import Settings
from rallypoint.cot import hotpath
from rallypoint.cot.stream import StreamDecoder
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore
from rallypoint.server.server import BoundPorts, Server
from tests.interop.clients import DEFAULT_TIMEOUT, HOST, READ_SIZE, TakClient, has_type
from tests.settings import listening

hypothesis_settings.register_profile(
    "rallypoint", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("rallypoint")
"""Deterministic examples, and no per-example deadline: CI machines are shared and noisy."""

FIXTURES = Path(__file__).parent / "fixtures" / "cot"
EVENT_FIXTURES = sorted(p for p in FIXTURES.glob("*.xml") if not p.name.startswith("dp_"))


def fixture_bytes(name: str) -> bytes:
    """The bytes of one recorded message in tests/fixtures/cot."""
    return (FIXTURES / name).read_bytes()


def stream_payloads(data: bytes, limit: int = 64 * 1024) -> list[bytes]:
    """The payloads of the TAK protocol frames in ``data``, split by the production stream decoder."""
    decoder = StreamDecoder(limit, limit, max_frames=len(data) + 1)
    frames = decoder.feed(data)
    if decoder.error is not None:
        raise decoder.error
    return [frame.payload for frame in frames]


def fresh(data: bytes, stale: str = "2099-01-01T00:00:00.000Z") -> bytes:
    """A recorded event with its stale time moved into the future, so caches keep it."""
    return re.sub(rb"stale=(['\"])[^'\"]*\1", f'stale="{stale}"'.encode(), data, count=1)


@dataclass
class RunningServer:
    """A server started inside the test's event loop."""

    server: Server
    ports: BoundPorts
    host: str = "127.0.0.1"

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open a plain TCP stream to the server."""
        return await asyncio.open_connection(self.host, self.ports.tcp)


@pytest.fixture(scope="module", params=[hotpath.PYTHON, hotpath.NATIVE])
def hot_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a module's tests once with each hot-path implementation (``pytestmark`` uses it).

    Module-scoped so that hypothesis tests may use it; the native twin is skipped only where
    it was not built (no compiler at install time)."""
    name = str(request.param)
    if name not in hotpath.AVAILABLE:
        pytest.skip("the native extension was not built")
    previous = hotpath.IMPLEMENTATION
    hotpath.use(name)
    yield name
    hotpath.use(previous)


@pytest.fixture
def server_settings(tmp_path: Path) -> Settings:
    """Settings for a test server: ephemeral ports on loopback, data in a temporary directory."""
    return listening(tmp_path, udp_port=0)


@pytest.fixture
async def running_server(server_settings: Settings) -> AsyncIterator[RunningServer]:
    """A real server for the duration of one test; stopped afterwards."""
    server = Server(server_settings)
    ports = await server.start()
    try:
        yield RunningServer(server, ports)
    finally:
        await server.stop()


async def read_until(
    reader: asyncio.StreamReader, predicate: Callable[[bytes], bool], timeout: float = DEFAULT_TIMEOUT
) -> bytes:
    """Read from ``reader`` until ``predicate(all bytes so far)`` holds; fail after ``timeout``."""
    received = b""

    async def loop() -> bytes:
        nonlocal received
        while not predicate(received):
            chunk = await reader.read(65536)
            if not chunk:
                break
            received += chunk
        return received

    return await asyncio.wait_for(loop(), timeout)


# TLS: a certificate authority and enrolled identities in a temporary data directory


@dataclass(frozen=True)
class Credentials:
    """A client's certificate and key files, as a TAK client holds them after enrollment."""

    name: str
    certificate: Path
    key: Path
    serial: int


@dataclass
class PkiFixture:
    """The CA and identity store of a test server's data directory, used the way the CLI uses them
    (a second ``IdentityStore`` on the same file, beside the server's own)."""

    data_dir: Path
    authority: CertificateAuthority
    store: IdentityStore

    @property
    def ca_file(self) -> Path:
        return self.authority.paths.ca_cert

    def add_user(self, name: str, *groups: str) -> Credentials:
        """A user in ``groups`` with a certificate issued and recorded for it."""
        self.store.add_user(name, f"password-of-{name}", groups)
        return self.issue(name)

    def issue(
        self, name: str, *, now: datetime | None = None, days: int = 30, record: bool = True
    ) -> Credentials:
        """A client certificate for ``name`` (valid from ``now``), recorded in the store unless told not to."""
        certificate, key = self.authority.issue(name, now or datetime.now(UTC), days)
        if record:
            self.store.record_certificate(certificate, name)
        return write_credentials(self.data_dir.parent / "clients", name, certificate, key)

    def client_context(self, credentials: Credentials | None) -> ssl.SSLContext:
        """What a TAK client uses: trust our CA, present its certificate (if any)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if credentials is not None:
            context.load_cert_chain(credentials.certificate, credentials.key)
        return context


def write_credentials(
    directory: Path,
    name: str,
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
) -> Credentials:
    """Write a certificate and its key as PEM files named after the certificate's serial."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{certificate.serial_number:x}"
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Credentials(name, cert_path, key_path, certificate.serial_number)


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    """A test server with the TLS port on (port 0) beside the plain one; no UDP, no enrollment."""
    return listening(tmp_path, tls_port=0)


@pytest.fixture
def pki(tls_settings: Settings) -> Iterator[PkiFixture]:
    """The CA (created as the server would) and the identity store of ``tls_settings.data_dir``."""
    data_dir = tls_settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    authority = CertificateAuthority.load_or_create(data_dir, tls_settings.hostname_list, datetime.now(UTC))
    store = IdentityStore(data_dir / "identity.sqlite3")
    try:
        yield PkiFixture(data_dir, authority, store)
    finally:
        store.close()


@pytest.fixture
async def tls_server(tls_settings: Settings, pki: PkiFixture) -> AsyncIterator[RunningServer]:
    """A real server with mutual TLS on, using ``pki``'s CA and identities."""
    server = Server(tls_settings)
    ports = await server.start()
    try:
        yield RunningServer(server, ports)
    finally:
        await server.stop()


class TlsClients:
    """Opens mutual-TLS client connections to a server and closes every one on exit."""

    def __init__(self, server: RunningServer, pki: PkiFixture) -> None:
        assert server.ports.tls is not None
        self.port = server.ports.tls
        self.pki = pki
        self.clients: list[TakClient] = []

    async def connect(self, credentials: Credentials, name: str | None = None) -> TakClient:
        """A client presenting ``credentials``; returns once the server's offer has arrived (it was let in)."""
        client = await self.open(credentials, name)
        await client.receive(has_type("t-x-takp-v"))
        return client

    async def open(self, credentials: Credentials | None, name: str | None = None) -> TakClient:
        """A TLS connection from the client's side, whatever the server then decides."""
        reader, writer = await asyncio.open_connection(
            HOST,
            self.port,
            ssl=self.pki.client_context(credentials),
            server_hostname="localhost",
            limit=READ_SIZE,
        )
        client = TakClient(reader, writer, name or (credentials.name if credentials else "anonymous"))
        self.clients.append(client)
        return client

    async def refused(self, context: ssl.SSLContext) -> bool:
        """True when the server lets a client with ``context`` complete no session (no byte sent to it)."""
        return await tls_refused(self.port, context, DEFAULT_TIMEOUT)

    async def __aenter__(self) -> "TlsClients":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for client in self.clients:
            with contextlib.suppress(ssl.SSLError):
                await client.close()


async def tls_refused(port: int, context: ssl.SSLContext, timeout: float) -> bool:
    """True when a TLS client with ``context`` on ``port`` gets no byte from the server (refused or cut)."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port, ssl=context, server_hostname="localhost")
    except (ssl.SSLError, ConnectionError):
        return True
    try:
        data = await asyncio.wait_for(reader.read(READ_SIZE), timeout)
    except (ssl.SSLError, ConnectionError):
        data = b""
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()
    return data == b""
