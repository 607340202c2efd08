"""A real server with the web command post on an ephemeral port, users in two groups, a tiny UI,
and helpers that log in over HTTP and open the live socket the way a browser does."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from rallypoint.config import Settings
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
from rallypoint.server.server import Server
from tests.conftest import RunningServer
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S

TIMEOUT = EVENT_TIMEOUT_S
ANON = "__ANON__"
USERS = {"alice": (ANON, "blue"), "bob": (ANON,), "eve": ("red",)}
"""alice and bob see the anonymous plain-TCP clients (pytak); eve is in another group."""
INDEX_HTML = "<!doctype html><title>Rallypoint</title><script src='/assets/app-1234.js'></script>"


def password(user: str) -> str:
    return f"secret of {user}"


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    ui = tmp_path / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text(INDEX_HTML)
    (ui / "assets" / "app-1234.js").write_text("console.log('rallypoint')")
    return listening(tmp_path, web_port=0, web_assets_dir=str(ui), enrollment_max_failures=3)


@pytest.fixture
async def web_server(web_settings: Settings) -> AsyncIterator[RunningServer]:
    web_settings.data_dir.mkdir(parents=True)
    with IdentityStore(identity_path(web_settings.data_dir)) as store:
        for name, groups in USERS.items():
            store.add_user(name, password(name), groups)
    server = Server(web_settings)
    ports = await server.start()
    try:
        yield RunningServer(server, ports)
    finally:
        await server.stop()


@dataclass
class Browser:
    """What a logged-in page holds: its HTTP client, cookie and CSRF token."""

    http: httpx.AsyncClient
    port: int
    cookie: str = ""
    csrf: str = ""

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Cookie": f"rp_session={self.cookie}"} if self.cookie else {}
        if self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return {**headers, **extra}

    async def login(self, user: str, secret: str | None = None) -> httpx.Response:
        response = await self.http.post(
            "/api/login", json={"username": user, "password": secret or password(user)}
        )
        if response.status_code == 200:
            self.cookie = response.cookies["rp_session"]
            self.csrf = response.json()["csrf"]
        return response

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.headers())

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers(), **kwargs)

    @contextlib.asynccontextmanager
    async def live(self, **headers: str) -> AsyncIterator["LiveClient"]:
        extra = {"Origin": self.origin, **headers}
        if self.cookie:
            extra["Cookie"] = f"rp_session={self.cookie}"
        async with connect(
            f"ws://127.0.0.1:{self.port}/api/live", additional_headers=extra, open_timeout=TIMEOUT
        ) as socket:
            yield LiveClient(socket)


class LiveClient:
    """The page's end of ``/api/live``."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.seen: list[dict[str, Any]] = []

    async def receive(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The first message (from now) that ``predicate`` accepts."""
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.socket.recv())
                self.seen.append(message)
                if predicate(message):
                    return message

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first message ``predicate`` accepts, whether already read or still to come."""
        for message in self.seen:
            if predicate(message):
                return message
        return await self.receive(predicate)

    async def settle(self, browser: "Browser") -> list[dict[str, Any]]:
        """What reached this page before now: the messages read until a chat that ``browser``
        (logged in as the page's user) posts now comes back; the page gets its own chats at once,
        behind whatever was queued for it.

        Position reports are queued at the next coalescing flush, for every page at once: before
        settling on a contact that must *not* arrive, wait until some other page received one
        that was routed with it."""
        text = f"settle {id(self)} {len(self.seen)}"
        start = len(self.seen)
        response = await browser.post("/api/chat", {"to": "All Chat Rooms", "text": text})
        assert response.status_code == 200, response.text
        await self.receive(lambda message: message["type"] == "chat" and message["message"]["text"] == text)
        return self.seen[start:-1]


@pytest.fixture
async def browsers(web_server: RunningServer) -> AsyncIterator[Callable[[], Browser]]:
    """A factory of independent browsers (each with its own HTTP client) for ``web_server``."""
    assert web_server.ports.web is not None
    port = web_server.ports.web
    clients: list[httpx.AsyncClient] = []

    def make() -> Browser:
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT)
        clients.append(client)
        return Browser(client, port)

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()
