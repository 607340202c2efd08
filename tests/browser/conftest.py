"""The command post in a real browser: Debian's Chromium driven by Playwright (no browser
download), WebGL through SwiftShader, against a real server on loopback serving the built UI
shipped in the package, with users in two groups and pytak clients on the plain TCP port.

Every wait is a bounded poll of ``page.evaluate`` (the page's CSP forbids the eval that
Playwright's own ``wait_for_function`` needs) or a promise the page resolves; none is a fixed
pause."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rallypoint.bench.web import TEST_HOOK_SCRIPT
from rallypoint.http.command_post.app import PACKAGED_UI
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
from rallypoint.server.server import BoundPorts, Server
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
"""Software WebGL: MapLibre draws without a GPU."""
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT = EVENT_TIMEOUT_S
POLL_S = 0.02
ANON = "__ANON__"
USERS = {"alice": (ANON, "blue"), "eve": ("red",), "rita": ("red",)}
"""alice sees the anonymous plain-TCP clients (pytak); eve is in another group and sees none;
rita shares eve's group (her chat tells when eve's page has caught up)."""
CAMERA_AT_REST = """([lon, lat, frames]) => new Promise((resolve) => {
    let last = null, still = 0;
    const check = () => {
        const at = window.rallypoint.project(lon, lat);
        still = last !== null && at.x === last.x && at.y === last.y ? still + 1 : 0;
        last = at;
        if (still >= frames) resolve(at); else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
})"""
"""Where (lon, lat) is on the map once it stayed put for ``frames`` frames in a row: a camera
move (easing, fitting) changes it in every frame it runs."""

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)", allow_module_level=True)
if not (PACKAGED_UI / "index.html").is_file():
    pytest.skip("the web UI is not built into the package (make web)", allow_module_level=True)

from playwright.async_api import Browser, Page, async_playwright  # noqa: E402


def password(user: str) -> str:
    return f"secret of {user}"


@dataclass
class CommandPost:
    """A running server and a browser that opens logged-in pages on it."""

    server: Server
    ports: BoundPorts
    browser: Browser
    name: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}/"

    async def page(self, user: str | None = "alice", viewport: dict[str, int] | None = None) -> Page:
        """A fresh browser context on the command post, logged in as ``user`` (None: not),
        with a window of ``viewport`` (default :data:`VIEWPORT`)."""
        context = await self.browser.new_context(viewport=viewport or VIEWPORT)  # type: ignore[arg-type]
        await context.add_init_script(TEST_HOOK_SCRIPT)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors  # type: ignore[attr-defined]
        await page.goto(self.url)
        if user is not None:
            await login(page, user)
        return page

    async def screenshot(self, page: Page, suffix: str = "") -> Path:
        """Save the page under tests/browser/artifacts (git-ignored) and return the path."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{self.name}{suffix}.png"
        await page.screenshot(path=str(path))
        return path


async def login(page: Page, user: str, secret: str | None = None) -> None:
    """Fill the login form; wait until the map's layers and the basemap are drawn."""
    await page.fill("input[name=username]", user)
    await page.fill("input[name=password]", secret or password(user))
    await page.click("#login-form button[type=submit]")
    await until(page, "!!(window.rallypoint)")
    await page.evaluate("window.rallypoint.mapReady()")
    await page.evaluate("window.rallypoint.basemapReady()")


SHOWN_PANEL = "document.querySelector('.tab-panel.active, #mission-detail')?.innerText?.slice(0, 2000)"
"""What a failed wait reports of the page: the text a person would see in the side panel."""


async def until(page: Page, expression: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``expression`` in the page until it is truthy; its value. Fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            shown = await page.evaluate(SHOWN_PANEL)
            raise AssertionError(f"not true within {timeout} s: {expression}\nthe open panel shows: {shown}")
        await asyncio.sleep(POLL_S)


async def camera_at_rest(page: Page, lon: float, lat: float) -> dict[str, float]:
    """The screen position of (lon, lat) once the map's camera has stopped moving."""
    async with asyncio.timeout(TIMEOUT):
        at: dict[str, float] = await page.evaluate(CAMERA_AT_REST, [lon, lat, 3])
    return at


async def post_chat(command_post: CommandPost, user: str, text: str) -> None:
    """``user`` sends ``text`` to All Chat Rooms through the web API, without a browser."""
    async with httpx.AsyncClient(base_url=command_post.url, timeout=TIMEOUT) as http:
        login = await http.post("/api/login", json={"username": user, "password": password(user)})
        assert login.status_code == 200, login.text
        headers = {
            "Cookie": f"rp_session={login.cookies['rp_session']}",
            "X-CSRF-Token": login.json()["csrf"],
        }
        sent = await http.post("/api/chat", json={"to": "All Chat Rooms", "text": text}, headers=headers)
        assert sent.status_code == 200, sent.text


@pytest.fixture
def web_overrides() -> dict[str, Any]:
    """Settings a test module changes for its server (overridden there, e.g. basemap files)."""
    return {}


@pytest.fixture
async def command_post(
    tmp_path: Path, request: pytest.FixtureRequest, web_overrides: dict[str, Any]
) -> AsyncIterator[CommandPost]:
    settings = listening(tmp_path, web_port=0, **web_overrides)
    settings.data_dir.mkdir(parents=True)
    with IdentityStore(identity_path(settings.data_dir)) as store:
        for name, groups in USERS.items():
            store.add_user(name, password(name), groups)
    server = Server(settings)
    ports = await server.start()
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield CommandPost(server, ports, browser, request.node.name)
            finally:
                await browser.close()
    finally:
        await server.stop()
