"""``web_tls``: the command post over HTTPS, where a browser's client certificate logs its user in.

A certificate of ours that the identity store knows opens a session with the user's groups;
no certificate still allows a password login; a revoked certificate opens nothing.
"""

import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
from rallypoint.server.server import Server
from tests.conftest import Credentials, PkiFixture, RunningServer, write_credentials
from tests.waiting import EVENT_TIMEOUT_S, eventually
from tests.web.conftest import password

TIMEOUT = EVENT_TIMEOUT_S


@pytest.fixture
async def https_web(web_settings: Settings) -> AsyncIterator[tuple[RunningServer, PkiFixture]]:
    settings = replace(web_settings, web_tls=True)
    settings.data_dir.mkdir(parents=True)
    authority = CertificateAuthority.load_or_create(
        settings.data_dir, settings.hostname_list, datetime.now(UTC)
    )
    with IdentityStore(identity_path(settings.data_dir)) as store:
        store.add_user("alice", password("alice"), ["blue"])
        store.add_user("mallory", password("mallory"), ["blue"])
    server = Server(settings)
    ports = await server.start()
    store = IdentityStore(identity_path(settings.data_dir))
    try:
        yield RunningServer(server, ports), PkiFixture(settings.data_dir, authority, store)
    finally:
        store.close()
        await server.stop()


def _issue(pki: PkiFixture, name: str) -> Credentials:
    certificate, key = pki.authority.issue(name, datetime.now(UTC), 30)
    pki.store.record_certificate(certificate, name)
    return write_credentials(pki.data_dir.parent / "clients", name, certificate, key)


def _client(server: RunningServer, context: ssl.SSLContext) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{server.ports.web}", verify=context, timeout=TIMEOUT
    )


async def test_a_client_certificate_logs_its_user_in(https_web: tuple[RunningServer, PkiFixture]) -> None:
    server, pki = https_web
    async with _client(server, pki.client_context(_issue(pki, "alice"))) as browser:
        session = await browser.get("/api/session")
        assert session.status_code == 200
        assert session.json()["user"] == "alice"
        assert sorted(session.json()["groups"]) == ["blue"]
        assert "Secure" in session.headers["set-cookie"]
        contacts = await browser.get("/api/contacts")  # the cookie alone carries the session now
        assert contacts.status_code == 200


async def test_without_a_certificate_the_password_is_needed(
    https_web: tuple[RunningServer, PkiFixture],
) -> None:
    server, pki = https_web
    async with _client(server, pki.client_context(None)) as browser:
        assert (await browser.get("/api/session")).status_code == 401
        origin = f"https://127.0.0.1:{server.ports.web}"
        login = await browser.post(
            "/api/login",
            json={"username": "alice", "password": password("alice")},
            headers={"Origin": origin},
        )
        assert login.status_code == 200


async def test_a_revoked_certificate_opens_nothing(https_web: tuple[RunningServer, PkiFixture]) -> None:
    server, pki = https_web
    credentials = _issue(pki, "mallory")
    pki.store.revoke("mallory", datetime.now(UTC))
    async with _client(server, pki.client_context(credentials)) as browser:
        try:
            response = await browser.get("/api/session")
        except httpx.TransportError:
            return  # refused at the handshake once the CRL lists it: fine too
        assert response.status_code == 401


async def test_revoking_the_certificate_ends_the_session_it_opened(
    https_web: tuple[RunningServer, PkiFixture],
) -> None:
    server, pki = https_web
    credentials = _issue(pki, "alice")
    async with _client(server, pki.client_context(credentials)) as browser:
        assert (await browser.get("/api/session")).status_code == 200
        cookie = browser.cookies["rp_session"]
    async with _client(server, pki.client_context(None)) as other:
        assert (
            await other.get("/api/contacts", headers={"Cookie": f"rp_session={cookie}"})
        ).status_code == 200
        pki.store.revoke("alice", datetime.now(UTC))

        async def session_ended() -> bool:
            response = await other.get("/api/contacts", headers={"Cookie": f"rp_session={cookie}"})
            return response.status_code == 401

        await eventually(session_ended, what="the session ended")  # the server checks the store periodically
