"""The command post as an incident commander runs it (issue 16): a form that survives live
updates, units that lose coverage kept as grey last-known positions, emergencies that cannot
be missed and are acknowledged to the device, and a layout that works on a phone."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.browser.conftest import TIMEOUT, CommandPost, password, until
from tests.browser.test_command_post import LAT, LON


@asynccontextmanager
async def web_api(command_post: CommandPost, user: str = "alice") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in to the web API as ``user`` (a second commander, no browser)."""
    async with httpx.AsyncClient(base_url=command_post.url, timeout=TIMEOUT) as http:
        login = await http.post("/api/login", json={"username": user, "password": password(user)})
        assert login.status_code == 200, login.text
        http.headers["X-CSRF-Token"] = login.json()["csrf"]
        http.headers["Cookie"] = f"rp_session={login.cookies['rp_session']}"
        yield http


async def post_ok(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
    answer = await http.post(path, json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def test_typing_an_objective_survives_a_mission_change(command_post: CommandPost) -> None:
    page = await command_post.page()
    await page.click("nav.tabs [data-tab=missions]")
    await page.fill("#mission-name", "op-focus")
    await page.click("#mission-create button[type=submit]")
    await until(page, "document.querySelector('#mission-detail h2')?.textContent === 'op-focus'")
    await page.click("#designate-point")
    at = await page.evaluate(f"window.rallypoint.project({LON}, {LAT})")
    await page.locator("#map canvas").click(position={"x": at["x"], "y": at["y"]})
    await until(page, "document.activeElement?.id === 'objective-title'")
    await page.keyboard.type("Hold the ")

    async with web_api(command_post) as http:
        geometry = {"type": "Point", "coordinates": [LON + 0.01, LAT]}
        draft = {"title": "Someone else's", "description": "", "priority": "normal", "geometry": geometry}
        await post_ok(http, "/api/missions/op-focus/objectives", draft)
    await until(page, "document.querySelectorAll('#objective-list .objective').length === 1")

    await page.keyboard.type("bridge")
    assert await page.evaluate("document.activeElement?.id") == "objective-title"
    assert await page.input_value("#objective-title") == "Hold the bridge"
    await page.keyboard.press("Tab")
    await page.keyboard.type("a note")
    await page.fill("#objective-assignee", "BRAVO")
    await page.click("#objective-form button[type=submit]")
    await until(page, "document.querySelectorAll('#objective-list .objective').length === 2")
    assert "Assignee: BRAVO" in await page.text_content("#objective-list")
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]
