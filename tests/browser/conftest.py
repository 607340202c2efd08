"""The command post in a real browser: Debian's Chromium driven by Playwright (no browser
download), WebGL through SwiftShader, against a real server on loopback serving the built UI
shipped in the package, with users in two groups and pytak clients on the plain TCP port.

Every wait is a bounded poll of ``page.evaluate`` (the page's CSP forbids the eval that
Playwright's own ``wait_for_function`` needs)."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rallypoint.api.web_app import PACKAGED_UI
from rallypoint.config import Settings
from rallypoint.net.server import BoundPorts, Server
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
"""Software WebGL: MapLibre draws without a GPU."""
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT = 10.0
POLL_S = 0.02
ANON = "__ANON__"
USERS = {"alice": (ANON, "blue"), "eve": ("red",)}
"""alice sees the anonymous plain-TCP clients (pytak); eve is in another group and sees none."""

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

    async def page(self, user: str | None = "alice") -> Page:
        """A fresh browser context on the command post, logged in as ``user`` (None: not)."""
        context = await self.browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
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


async def until(page: Page, expression: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``expression`` in the page until it is truthy; its value. Fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {expression}")
        await asyncio.sleep(POLL_S)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = TIMEOUT) -> None:
    """Await ``check()`` until it is true; fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(POLL_S)


@pytest.fixture
async def command_post(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[CommandPost]:
    settings = Settings(
        data_dir=tmp_path / "data",
        tcp_port=0,
        udp_port=None,
        tls_port=None,
        enrollment_port=None,
        api_tls_port=None,
        api_plain_port=None,
        web_port=0,
    )
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
