"""Restart while open: the server stops and starts again on the same data directory and port
while a logged-in page is open; the page shows "reconnecting…", then carries on live without a
login form (its session was stored), with the chat it had before (replayed in the snapshot).
Screenshots are saved while reconnecting and after."""

import dataclasses

from rallypoint.server.server import Server
from tests.browser.conftest import CommandPost, post_chat, until

BANNER_SHOWN = "!document.getElementById('reconnect-banner').hidden"
LIVE_OPEN = "document.getElementById('live-state').dataset.state === 'open'"
CHAT_HAS = "document.getElementById('chat-log').textContent.includes({text!r})"


async def test_a_page_open_across_a_server_restart_reconnects_without_logging_in(
    command_post: CommandPost,
) -> None:
    page = await command_post.page("alice")
    await page.click("nav.tabs [data-tab=chat]")
    await until(page, LIVE_OPEN)
    await post_chat(command_post, "alice", "before the restart")
    await until(page, CHAT_HAS.format(text="before the restart"))
    settings = dataclasses.replace(command_post.server.settings, web_port=command_post.ports.web)
    await command_post.server.stop()
    await until(page, BANNER_SHOWN)
    assert "reconnecting" in await page.inner_text("#reconnect-banner")
    await command_post.screenshot(page, "-reconnecting")
    restarted = Server(settings)
    command_post.ports = await restarted.start()
    try:
        await until(page, f"{LIVE_OPEN} && document.getElementById('reconnect-banner').hidden")
        assert await page.locator("#login-form").count() == 0
        await post_chat(command_post, "alice", "after the restart")
        await until(page, CHAT_HAS.format(text="after the restart"))
        await page.reload()  # a reload too: the session is still good and the chat is replayed
        await until(page, "!!(window.rallypoint)")
        await page.click("nav.tabs [data-tab=chat]")
        await until(page, CHAT_HAS.format(text="before the restart"))
        await until(page, CHAT_HAS.format(text="after the restart"))
        assert await page.locator("#login-form").count() == 0
        await command_post.screenshot(page)
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        await restarted.stop()  # the fixture stops the first server only
