"""Web sessions outlive a server restart (stored hashed on disk) and still end when they must."""

import sqlite3
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from rallypoint.config import Settings
from rallypoint.http.command_post.session_records import session_records_path, token_hash
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
from rallypoint.server.server import Server
from tests.conftest import RunningServer
from tests.web.conftest import TIMEOUT, Browser


@asynccontextmanager
async def restarted(
    web_server: RunningServer, settings: Settings, while_down: Callable[[], None] = lambda: None
) -> AsyncIterator[Browser]:
    """Stop ``web_server``, do ``while_down``, start a new server on the same data directory, and
    yield a browser (no cookie yet) pointed at it."""
    await web_server.server.stop()
    while_down()
    server = Server(settings)
    ports = await server.start()
    assert ports.web is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.web}", timeout=TIMEOUT) as client:
            yield Browser(client, ports.web)
    finally:
        await server.stop()


def stored_hashes(settings: Settings) -> list[str]:
    with sqlite3.connect(session_records_path(settings.data_dir)) as db:
        return [row[0] for row in db.execute("SELECT token_hash FROM web_sessions")]


async def test_a_session_survives_a_restart_and_the_file_holds_only_its_hash(
    browsers: Callable[[], Browser], web_server: RunningServer, web_settings: Settings
) -> None:
    alice = browsers()
    login = (await alice.login("alice")).json()
    assert stored_hashes(web_settings) == [token_hash(alice.cookie)]
    path = session_records_path(web_settings.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert alice.cookie.encode() not in path.read_bytes()
    async with restarted(web_server, web_settings) as again:
        again.cookie, again.csrf = alice.cookie, alice.csrf
        session = await again.get("/api/session")
        assert session.status_code == 200, session.text
        assert session.json() == login  # same user, groups and CSRF token: the page carries on
        chat = await again.post("/api/chat", {"to": "All Chat Rooms", "text": "after the restart"})
        assert chat.status_code == 200, chat.text
        async with again.live() as page:
            snapshot = await page.receive(lambda message: message["type"] == "snapshot")
            assert snapshot["type"] == "snapshot"
        assert (await again.post("/api/logout")).status_code == 200
        assert stored_hashes(web_settings) == []
        assert (await again.get("/api/session")).status_code == 401


async def test_a_user_disabled_while_the_server_was_down_is_not_revived(
    browsers: Callable[[], Browser], web_server: RunningServer, web_settings: Settings
) -> None:
    alice, bob = browsers(), browsers()
    await alice.login("alice")
    await bob.login("bob")

    def disable_alice() -> None:
        with IdentityStore(identity_path(web_settings.data_dir)) as admin:
            admin.set_disabled("alice", True)

    async with restarted(web_server, web_settings, disable_alice) as again:
        again.cookie = alice.cookie
        assert (await again.get("/api/session")).status_code == 401
        again.cookie = bob.cookie
        assert (await again.get("/api/session")).status_code == 200
        assert stored_hashes(web_settings) == [token_hash(bob.cookie)]


async def test_a_forged_cookie_opens_nothing(
    browsers: Callable[[], Browser], web_server: RunningServer, web_settings: Settings
) -> None:
    alice = browsers()
    await alice.login("alice")
    async with restarted(web_server, web_settings) as again:
        again.cookie = token_hash(alice.cookie)  # what the file holds is not a key
        assert (await again.get("/api/session")).status_code == 401
