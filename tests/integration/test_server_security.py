"""The whole secure path through one `Server`: enroll on its HTTPS port, then stream over its TLS port."""

import asyncio
import base64
from dataclasses import replace
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.conftest import PkiFixture, fixture_bytes, fresh, read_until


def _csr(user: str, key: rsa.RSAPrivateKey, entries: tuple[tuple[str, str], ...]) -> bytes:
    oids = {"O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME}
    names = [x509.NameAttribute(oids[name], value) for name, value in entries]
    subject = x509.Name([*names, x509.NameAttribute(NameOID.COMMON_NAME, user)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM)


async def test_enroll_then_stream(tls_settings: Settings, pki: PkiFixture, tmp_path: Path) -> None:
    pki.store.add_user("carol", "carol-password", ["blue"])
    bob = pki.add_user("bob", "blue")
    server = Server(replace(tls_settings, enrollment_port=0))
    ports = await server.start()
    try:
        assert ports.enrollment is not None
        assert ports.tls is not None
        base = f"https://localhost:{ports.enrollment}"
        auth = ("carol", "carol-password")
        async with httpx.AsyncClient(verify=pki.client_context(None), timeout=30) as http:
            config = await http.get(f"{base}/Marti/api/tls/config", auth=auth)
            assert config.status_code == 200
            assert b"nameEntry" in config.content
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            signed = await http.post(
                f"{base}/Marti/api/tls/signClient/v2?clientUid=ANDROID-carol",
                auth=auth,
                content=_csr("carol", key, pki.authority.name_entries),
                headers={"Accept": "application/json"},
            )
            assert signed.status_code == 200, signed.text
        certificate = x509.load_der_x509_certificate(base64.b64decode(signed.json()["signedCert"]))
        cert_file = tmp_path / "carol.pem"
        key_file = tmp_path / "carol.key"
        cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        carol_context = pki.client_context(None)
        carol_context.load_cert_chain(cert_file, key_file)

        bob_reader, bob_writer = await asyncio.open_connection(
            "127.0.0.1", ports.tls, ssl=pki.client_context(bob), server_hostname="localhost"
        )
        await read_until(bob_reader, lambda data: b"t-x-takp-v" in data)
        carol_reader, carol_writer = await asyncio.open_connection(
            "127.0.0.1", ports.tls, ssl=carol_context, server_hostname="localhost"
        )
        await read_until(carol_reader, lambda data: b"t-x-takp-v" in data)
        carol_writer.write(fresh(fixture_bytes("pli_atak_civ4_taky.xml")))
        await carol_writer.drain()
        received = await read_until(bob_reader, lambda data: b"ANDROID-deadbeef" in data)
        assert b"JENNY" in received
        subscriber = server.context.router.registry.by_uid("ANDROID-deadbeef")
        assert subscriber is not None
        assert subscriber.identity == "carol"
        for writer in (bob_writer, carol_writer):
            writer.close()
    finally:
        await server.stop()
