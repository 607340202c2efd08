"""Interop with PyPI ``pytak``: its own certificate enrollment client against our port 8446,
then pytak streaming over mutual TLS with the certificate it obtained (issue 3, reference §4.6).

pytak's ``CertificateEnrollment`` hard-codes ``https://<host>:8446``, so these tests bind
127.0.0.1:8446 and are skipped when that port is taken. The enrollment service is started on
the test server's own CA, identity store and audit log, as ``Server.start`` wires it.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from rallypoint.errors import ConfigError
from rallypoint.pki.paths import audit_path
from rallypoint.server.enrollment import EnrollmentService, start_enrollment
from rallypoint.transport.context import ServerContext
from tests.conftest import PkiFixture, RunningServer, read_until
from tests.interop.clients import eventually, pli_xml
from tests.interop.pytak_tools import pytak, running_pytak

pytestmark = [
    # pytak 7.6 still passes aiohttp.BasicAuth as ``auth=``, which aiohttp deprecates; not ours to fix.
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
    # pytak's TLS context sets ssl.OP_NO_TLSv1/OP_NO_TLSv1_1, deprecated since Python 3.10.
    pytest.mark.filterwarnings("ignore:ssl.OP_NO_SSL:DeprecationWarning"),
]

PYTAK_ENROLLMENT_PORT = 8446
"""Fixed in pytak (crypto_classes.py builds ``https://{domain}:8446/...``)."""
PASSWORD = "enrol-me-please"
TIMEOUT = 30.0
"""pytak makes a 4096-bit RSA key before enrolling: seconds on a slow machine."""


@contextlib.asynccontextmanager
async def enrollment_on_8446(context: ServerContext) -> AsyncIterator[EnrollmentService]:
    assert context.authority is not None
    assert context.identities is not None
    assert context.audit_log is not None
    try:
        service = await start_enrollment(
            context.authority,
            context.identities,
            context.audit_log,
            context.settings,
            host="127.0.0.1",
            port=PYTAK_ENROLLMENT_PORT,
        )
    except ConfigError as exc:
        pytest.skip(f"pytak enrolls only on port {PYTAK_ENROLLMENT_PORT}, which is busy here: {exc}")
    try:
        yield service
    finally:
        await service.close()


@contextlib.asynccontextmanager
async def pytak_enroll(user: str, password: str) -> AsyncIterator[tuple[Path, str]]:
    """Run pytak's enrollment; yield the PKCS#12 file it wrote (empty if it failed) and its password."""
    path, passphrase = await asyncio.wait_for(pytak.enroll_tak("127.0.0.1", user, password), TIMEOUT)
    try:
        yield Path(path), passphrase
    finally:
        _remove(Path(path))


def pytak_tls_client(
    port: int, p12: Path, passphrase: str, ca_file: Path
) -> contextlib.AbstractAsyncContextManager[pytak.CLITool]:
    """A running pytak ``CLITool`` on ``tls://127.0.0.1:<port>`` with the enrolled PKCS#12."""
    config = {
        "COT_URL": f"tls://127.0.0.1:{port}",
        "PYTAK_TLS_CLIENT_CERT": str(p12),
        "PYTAK_TLS_CLIENT_PASSWORD": passphrase,
        "PYTAK_TLS_CLIENT_CAFILE": str(ca_file),
        "PYTAK_NO_HELLO": "1",
    }
    return running_pytak("pytak-tls", config)


async def test_pytak_enrolls_then_streams_over_mutual_tls(tls_server: RunningServer, pki: PkiFixture) -> None:
    context = tls_server.server.context
    assert context.identities is not None
    assert tls_server.ports.tls is not None
    context.identities.add_user("alice", PASSWORD, ["blue"])
    bob = pki.add_user("bob", "blue")

    async with enrollment_on_8446(context), pytak_enroll("alice", PASSWORD) as (p12, passphrase):
        assert p12.stat().st_size > 0, "pytak wrote no certificate: enrollment failed"
        key, certificate, chain = pkcs12.load_key_and_certificates(p12.read_bytes(), passphrase.encode())
        assert key is not None
        assert certificate is not None
        certificate.verify_directly_issued_by(pki.authority.certificate)
        assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
        assert certificate.public_key() == key.public_key()
        assert chain == [pki.authority.certificate]
        record = context.identities.certificate(certificate.serial_number)
        assert record is not None
        assert (record.user, record.client_uid) == ("alice", "test")  # pytak sends clientUid=test

        reader, writer = await asyncio.open_connection(
            "127.0.0.1", tls_server.ports.tls, ssl=pki.client_context(bob)
        )
        try:
            async with pytak_tls_client(tls_server.ports.tls, p12, passphrase, pki.ca_file) as tool:
                await eventually(lambda: _connected_as(context, "alice"))
                await tool.tx_queue.put(pli_xml("PYTAK-ENROLLED", "ENROLLED"))
                received = await read_until(reader, lambda data: b'uid="PYTAK-ENROLLED"' in data, TIMEOUT)
        finally:
            writer.close()
            with contextlib.suppress(OSError):  # TLS close races with data still arriving
                await writer.wait_closed()
    assert b'callsign="ENROLLED"' in received


async def test_pytak_enrollment_with_a_wrong_password_gets_nothing(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    context = tls_server.server.context
    assert context.identities is not None
    context.identities.add_user("alice", PASSWORD, ["blue"])
    async with enrollment_on_8446(context), pytak_enroll("alice", "not-the-password") as (p12, _):
        assert not p12.exists() or p12.stat().st_size == 0
    assert context.identities.certificates() == []
    audit = audit_path(tls_server.server.settings.data_dir).read_text().splitlines()
    failures = [entry for entry in map(json.loads, audit) if entry["kind"] == "login_failed"]
    assert [(entry["user"], entry["address"]) for entry in failures] == [("alice", "127.0.0.1")]


def _remove(path: Path) -> None:
    """pytak leaves its output in a NamedTemporaryFile(delete=False)."""
    path.unlink(missing_ok=True)


def _connected_as(context: ServerContext, name: str) -> bool:
    identities = [getattr(connection, "identity", None) for connection in context.connections]
    return any(identity is not None and identity.name == name for identity in identities)
