"""Login, session cookie, CSRF and Origin checks of the web command post, over real HTTP."""

import json
from collections.abc import Callable

import pytest
from websockets.exceptions import ConnectionClosed

from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import audit_path, identity_path
from tests.conftest import RunningServer
from tests.waiting import eventually
from tests.web.conftest import INDEX_HTML, Browser


async def test_login_sets_a_strict_httponly_session_cookie(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    response = await browser.login("alice")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == "alice"
    assert body["groups"] == ["__ANON__", "blue"]
    assert len(body["csrf"]) >= 43
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("rp_session=")
    flags = {part.strip() for part in cookie.split(";")[1:]}
    assert {"HttpOnly", "SameSite=Strict", "Path=/", "Secure"} <= flags  # Secure: loopback host
    assert len(browser.cookie) >= 43  # 32 random bytes, URL-safe base64

    session = await browser.get("/api/session")
    assert session.status_code == 200
    assert session.json() == body


async def test_bad_password_and_unknown_user_are_refused_alike(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    browser = browsers()
    wrong = await browser.login("alice", "guess")
    unknown = await browser.login("mallory", "guess")
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert wrong.json()["error"] == unknown.json()["error"]
    assert "set-cookie" not in wrong.headers
    assert (await browser.get("/api/session")).status_code == 401
    lines = audit_path(web_server.server.settings.data_dir).read_text().splitlines()
    failed = [entry for entry in map(json.loads, lines) if entry["kind"] == "login_failed"]
    assert {entry["user"] for entry in failed} == {"alice", "mallory"}


async def test_repeated_failures_are_throttled_with_retry_after(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    statuses = [(await browser.login("bob", "nope")).status_code for _ in range(3)]
    throttled = await browser.login("bob")  # even the right password waits out the window
    assert statuses == [401, 401, 401]
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1


async def test_state_changing_requests_need_the_csrf_token(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    await browser.login("alice")
    csrf, browser.csrf = browser.csrf, ""
    missing = await browser.post("/api/chat", {"to": "All Chat Rooms", "text": "hi"})
    browser.csrf = "x" * len(csrf)
    wrong = await browser.post("/api/chat", {"to": "All Chat Rooms", "text": "hi"})
    browser.csrf = csrf
    right = await browser.post("/api/chat", {"to": "All Chat Rooms", "text": "hi"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
    assert "X-CSRF-Token" in missing.json()["error"]


async def test_cross_origin_posts_are_refused(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    await browser.login("alice")
    forged = await browser.http.post(
        "/api/chat",
        json={"to": "All Chat Rooms", "text": "hi"},
        headers=browser.headers(Origin="https://evil.example"),
    )
    login = await browser.http.post(
        "/api/login",
        json={"username": "alice", "password": "secret of alice"},
        headers={"Origin": "https://evil.example"},
    )
    assert (forged.status_code, login.status_code) == (403, 403)


async def test_logout_ends_the_session(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    await browser.login("alice")
    response = await browser.post("/api/logout")
    assert response.status_code == 200
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert (await browser.get("/api/contacts")).status_code == 401


async def test_api_needs_a_session(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    for path in ("/api/contacts", "/api/config", "/api/packages", "/api/session"):
        response = await browser.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"] == "not logged in"


async def test_page_and_assets_are_served_with_csp_and_cache_headers(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    page = await browser.http.get("/")
    asset = await browser.http.get("/assets/app-1234.js")
    missing = await browser.http.get("/assets/nope.js")
    assert page.status_code == 200
    assert page.text == INDEX_HTML
    assert page.headers["cache-control"] == "no-cache"
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "worker-src 'self' blob:" in csp
    assert "frame-ancestors 'none'" in csp
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404


async def test_a_user_disabled_or_moved_loses_the_open_page(
    browsers: Callable[[], Browser], web_server: RunningServer
) -> None:
    alice, bob = browsers(), browsers()
    await alice.login("alice")
    await bob.login("bob")
    admin = IdentityStore(identity_path(web_server.server.settings.data_dir))
    try:
        async with alice.live() as page:
            await page.receive(lambda message: message["type"] == "snapshot")
            admin.set_disabled("alice", True)
            with pytest.raises(ConnectionClosed):
                await page.receive(lambda message: False)
        assert (await alice.get("/api/contacts")).status_code == 401
        admin.set_groups("bob", ["red"])

        async def bob_logged_out() -> bool:
            return (await bob.get("/api/contacts")).status_code == 401

        await eventually(bob_logged_out, what="bob's session ended")  # he logs in again with the new groups
        login = await bob.login("bob")
        assert login.json()["groups"] == ["red"]
    finally:
        admin.close()
