"""Mutual TLS on the streaming port (issue 3, items 3, 7, 8): who gets in, and who is cut off.

Identities are made through the ``pki`` package in a temporary data directory; clients are
the standard library's TLS client with the CA as trust store and the issued certificate.
Revocation and disabling go through a second ``IdentityStore`` on the same file, as the CLI
in another process would (tests/integration/test_admin_live.py runs the real CLI).
"""

import asyncio
import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

import rallypoint.server.identity_watch
from rallypoint.config import Settings
from rallypoint.pki.audit import verify_audit_log
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.server.server import Server
from rallypoint.transport.stream import StreamConnection
from tests.conftest import PkiFixture, RunningServer, TlsClients, write_credentials
from tests.interop.clients import eventually, has_type, has_uid, pli_xml


def _tls_connections(server: RunningServer) -> list[StreamConnection]:
    connections = [c for c in server.server.context.connections if isinstance(c, StreamConnection)]
    return [c for c in connections if c.transport_name == "tls"]


def _audit_kinds(pki: PkiFixture) -> list[str]:
    report = verify_audit_log(pki.data_dir / "audit.log")
    assert report.ok, report
    lines = (pki.data_dir / "audit.log").read_text().splitlines()
    return [line.split('"kind":"', 1)[1].split('"', 1)[0] for line in lines]


async def test_two_identities_of_a_group_exchange_positions(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    async with TlsClients(tls_server, pki) as clients:
        a = await clients.connect(alice)
        b = await clients.connect(bob)
        await a.send(pli_xml("ALICE-1", "ALPHA"))
        seen = await b.receive(has_uid("ALICE-1"))
        await b.send(pli_xml("BOB-1", "BRAVO"))
        await a.receive(has_uid("BOB-1"))

    assert seen.callsign == "ALPHA"
    subscribers = {c.subscriber.identity: c.subscriber for c in _tls_connections(tls_server) if c.subscriber}
    counters = tls_server.server.context.counters
    assert counters.get("events_in{transport=tls,format=xml}") == 2
    assert counters.get("connections_opened{transport=tls}") == 2
    assert set(subscribers) <= {"alice", "bob"}  # closed connections may already be gone
    kinds = _audit_kinds(pki)
    assert kinds.count("connection") == 2


async def test_identity_and_groups_come_from_the_certificate(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice = pki.add_user("alice", "ops", "medics")
    async with TlsClients(tls_server, pki) as clients:
        a = await clients.connect(alice)
        await a.send_raw(b'<auth><cot username="admin" password="x" uid="ADMIN"/></auth>')
        await a.send(pli_xml("ALICE-1", "ALPHA"))
        await eventually(
            lambda: any(c.subscriber and c.subscriber.uid == "ALICE-1" for c in _tls_connections(tls_server))
        )
        (connection,) = _tls_connections(tls_server)
        subscriber = connection.subscriber
        assert subscriber is not None
        assert (subscriber.identity, subscriber.owner) == ("alice", "alice")
        assert subscriber.in_groups == subscriber.out_groups == {"ops", "medics"}
        assert connection.identity is not None
        assert connection.identity.serial == alice.serial
    assert tls_server.server.context.counters.get("auth_messages_ignored") == 1


async def test_protobuf_is_negotiated_over_tls(tls_server: RunningServer, pki: PkiFixture) -> None:
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    async with TlsClients(tls_server, pki) as clients:
        a = await clients.connect(alice)
        b = await clients.connect(bob)
        await b.negotiate()
        await a.send(pli_xml("ALICE-1", "ALPHA", lat=48.5))
        as_frame = await b.receive(has_uid("ALICE-1"))
        await b.send(pli_xml("BOB-1", "BRAVO", lat=-12.25))
        as_xml = await a.receive(has_uid("BOB-1"))

    assert as_frame.protobuf
    assert as_frame.lat == 48.5
    assert not as_xml.protobuf
    assert as_xml.lat == -12.25
    assert tls_server.server.context.counters.get("events_in{transport=tls,format=protobuf}") == 1


def _no_certificate(pki: PkiFixture, tmp: Path) -> ssl.SSLContext:
    return pki.client_context(None)


def _another_ca(pki: PkiFixture, tmp: Path) -> ssl.SSLContext:
    other = CertificateAuthority.load_or_create(tmp / "other", ["localhost"], datetime.now(UTC))
    certificate, key = other.issue("mallory", datetime.now(UTC), 30)
    return pki.client_context(write_credentials(tmp / "other-clients", "mallory", certificate, key))


def _expired(pki: PkiFixture, tmp: Path) -> ssl.SSLContext:
    pki.store.add_user("mallory", "password-of-mallory", ["ops"])
    return pki.client_context(pki.issue("mallory", now=datetime.now(UTC) - timedelta(days=30), days=2))


def _not_recorded(pki: PkiFixture, tmp: Path) -> ssl.SSLContext:
    pki.store.add_user("mallory", "password-of-mallory", ["ops"])
    return pki.client_context(pki.issue("mallory", record=False))


def _disabled_user(pki: PkiFixture, tmp: Path) -> ssl.SSLContext:
    credentials = pki.add_user("mallory", "ops")
    pki.store.set_disabled("mallory", True)
    return pki.client_context(credentials)


@pytest.mark.parametrize(
    ("make_context", "reason"),
    [
        (_no_certificate, "no_certificate"),
        (_another_ca, "unknown_ca"),
        (_expired, "certificate_expired"),
        (_not_recorded, "unknown_certificate"),
        (_disabled_user, "disabled"),
    ],
)
async def test_clients_without_a_valid_identity_are_refused(
    tls_server: RunningServer,
    pki: PkiFixture,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_context: Callable[[PkiFixture, Path], ssl.SSLContext],
    reason: str,
) -> None:
    counters = tls_server.server.context.counters
    context = make_context(pki, tmp_path)
    good = pki.add_user("alice", "ops")
    async with TlsClients(tls_server, pki) as clients:
        with caplog.at_level(logging.WARNING, logger="rallypoint.transport.tls"):
            assert await clients.refused(context)
            await eventually(lambda: counters.get(f"handshake_refused{{reason={reason}}}") == 1)
        a = await clients.connect(good)  # the server goes on serving
        await a.send(pli_xml("ALICE-1", "ALPHA"))
        await eventually(lambda: counters.get("events_in{transport=tls,format=xml}") == 1)

    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert f"refused: {reason}" in refusals[0]
    assert refusals[0].startswith("TLS client 127.0.0.1:")
    assert counters.get("connections_opened{transport=tls}") == 1
    assert _audit_kinds(pki).count("handshake_refused") == 1


def _crl_serials(pki: PkiFixture) -> set[int]:
    crl = x509.load_pem_x509_crl(pki.authority.paths.crl.read_bytes())
    return {entry.serial_number for entry in crl}


async def test_a_certificate_revoked_before_connecting_is_refused_by_the_crl(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    counters = tls_server.server.context.counters
    mallory = pki.add_user("mallory", "ops")
    pki.store.revoke("mallory", datetime.now(UTC))
    await eventually(lambda: mallory.serial in _crl_serials(pki))  # the server re-signed the CRL
    async with TlsClients(tls_server, pki) as clients:
        assert await clients.refused(pki.client_context(mallory))
        await eventually(lambda: counters.get("handshake_refused{reason=certificate_revoked}") == 1)


async def test_the_store_refuses_a_revoked_certificate_the_crl_does_not_list_yet(
    tls_settings: Settings, pki: PkiFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rallypoint.server.identity_watch, "REVISION_POLL_S", 3600.0)  # never catches up
    mallory = pki.add_user("mallory", "ops")
    server = Server(tls_settings)
    running = RunningServer(server, await server.start())
    try:
        pki.store.revoke("mallory", datetime.now(UTC))
        assert mallory.serial not in _crl_serials(pki)
        async with TlsClients(running, pki) as clients:
            assert await clients.refused(pki.client_context(mallory))
            await eventually(lambda: server.context.counters.get("handshake_refused{reason=revoked}") == 1)
    finally:
        await server.stop()


@pytest.mark.parametrize("action", ["revoke", "disable"])
async def test_cutting_off_a_connected_identity_closes_it(
    tls_server: RunningServer, pki: PkiFixture, action: str
) -> None:
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    counters = tls_server.server.context.counters
    async with TlsClients(tls_server, pki) as clients:
        a = await clients.connect(alice)
        b = await clients.connect(bob)
        await a.send(pli_xml("ALICE-1", "ALPHA"))
        await b.receive(has_uid("ALICE-1"))
        if action == "revoke":
            pki.store.revoke("alice", datetime.now(UTC))
        else:
            pki.store.set_disabled("alice", True)
        assert await a.closed_by_server()
        departed = await b.receive(has_type("t-x-d-d"))  # the others see alice leave
        await b.send(pli_xml("BOB-1", "BRAVO"))  # and bob is still served
        await eventually(lambda: counters.get("events_in{transport=tls,format=xml}") == 2)

    assert 'uid="ALICE-1"' in departed.detail
    assert counters.get("revocation_closed") == 1
    assert "revocation" in _audit_kinds(pki)
    if action == "revoke":
        assert alice.serial in _crl_serials(pki)


async def test_the_first_refresh_of_the_watch_after_a_change_cuts_the_connection(
    tls_settings: Settings, pki: PkiFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What bounds the time a revoked identity stays connected is the watch's poll interval:
    the first refresh after the change cuts it off (the server's own poll is off here)."""
    monkeypatch.setattr(rallypoint.server.identity_watch, "REVISION_POLL_S", 3600.0)
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    server = Server(tls_settings)
    running = RunningServer(server, await server.start())
    watch = server.context.identity_watch
    counters = server.context.counters
    assert watch is not None
    try:
        async with TlsClients(running, pki) as clients:
            a, b = await clients.connect(alice), await clients.connect(bob)
            assert not watch.refresh(datetime.now(UTC))  # nothing changed: nothing happens
            assert counters.get("revocation_closed") == 0
            pki.store.revoke("alice", datetime.now(UTC))
            pki.store.set_groups("bob", ["ops", "medics"])
            assert watch.refresh(datetime.now(UTC))
            assert counters.get("revocation_closed") == 1
            assert await a.closed_by_server()
            assert alice.serial in _crl_serials(pki)
            assert await clients.refused(pki.client_context(alice))
            (connection,) = _tls_connections(running)
            assert connection.identity is not None
            assert connection.identity.groups == {"ops", "medics"}
            await b.send(pli_xml("BOB-1", "BRAVO"))
            await eventually(lambda: counters.get("events_in{transport=tls,format=xml}") == 1)
    finally:
        await server.stop()


async def test_the_audit_log_records_sessions_and_refusals(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice = pki.add_user("alice", "ops")
    async with TlsClients(tls_server, pki) as clients:
        a = await clients.connect(alice)
        assert await clients.refused(pki.client_context(None))
        await a.close()
        await eventually(lambda: "disconnection" in _audit_kinds(pki))

    kinds = _audit_kinds(pki)
    assert kinds[:1] == ["connection"]
    assert set(kinds) == {"connection", "handshake_refused", "disconnection"}
    text = (pki.data_dir / "audit.log").read_text()
    assert f'"serial":"{alice.serial:x}"' in text
    assert '"identity":"alice"' in text
    assert '"reason":"no_certificate"' in text


async def test_the_first_start_creates_the_authority_and_says_how_to_add_clients(
    tls_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    server = Server(tls_settings)
    with caplog.at_level(logging.INFO, logger="rallypoint.server.server"):
        ports = await server.start()
    try:
        assert ports.tls is not None
        assert ports.tls != ports.tcp
        assert (tls_settings.data_dir / "pki" / "ca.pem").exists()
        assert (tls_settings.data_dir / "pki" / "crl.pem").exists()
        assert server.context.identities is not None
        assert server.context.identities.users() == []
    finally:
        await server.stop()
    assert any("rallypoint package NAME" in record.getMessage() for record in caplog.records)


async def test_the_production_event_loop_serves_and_refuses_alike(
    tls_settings: Settings, pki: PkiFixture
) -> None:
    """``rallypoint serve`` runs on uvloop, whose transports differ from asyncio's (it starts
    reading a socket at once, for one): the same handshakes on it, in a thread of its own."""
    uvloop = pytest.importorskip("uvloop")
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")

    async def scenario() -> tuple[float, int]:
        server = Server(tls_settings)
        running = RunningServer(server, await server.start())
        try:
            async with TlsClients(running, pki) as clients:
                assert await clients.refused(pki.client_context(None))
                a, b = await clients.connect(alice), await clients.connect(bob)
                await a.send(pli_xml("ALICE-1", "ALPHA", lat=7.5))
                seen = await b.receive(has_uid("ALICE-1"))
            await eventually(
                lambda: server.context.counters.get("handshake_refused{reason=no_certificate}") == 1
            )
            return seen.lat, server.context.counters.get("connections_opened{transport=tls}")
        finally:
            await server.stop()

    assert await asyncio.to_thread(uvloop.run, scenario()) == (7.5, 2)
