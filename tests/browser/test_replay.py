"""After-action replay in headless Chromium: a TAK-like client on a raw TCP socket moves and
chats; the commander loads the window on the Replay tab, moves the slider, and the unit is where
it was at that moment (listed, and drawn on the map in the replay's colour), the chat shows in
the log, and the KML download holds the track; a screenshot is saved."""

import io

from PIL import Image
from playwright.async_api import Page

from tests.browser.conftest import CommandPost, camera_at_rest, until
from tests.interop.clients import TakClient, chat_xml, eventually, pli_xml

REPLAY_RGB = (217, 72, 15)
"""#d9480f, the replay layer's colour (webui/src/ui/replay.ts)."""
BOX = 30
LATS = (48.10, 48.11, 48.12)
LON = 11.5


async def replay_pixels(page: Page, x: float, y: float) -> int:
    """Pixels of the replay colour in a box of the screenshot centred on (x, y) of the map."""
    box = await page.locator("#map").bounding_box()
    assert box is not None
    clip = {"x": box["x"] + x - BOX / 2, "y": box["y"] + y - BOX / 2, "width": BOX, "height": BOX}
    data = Image.open(io.BytesIO(await page.screenshot(clip=clip))).convert("RGB").tobytes()
    pixels = (data[i : i + 3] for i in range(0, len(data), 3))
    return sum(1 for p in pixels if all(abs(a - b) <= 30 for a, b in zip(p, REPLAY_RGB, strict=True)))


async def test_replay_a_window_with_the_slider_and_export_it(command_post: CommandPost) -> None:
    mover = await TakClient.connect(command_post.ports.tcp, "mover")
    for lat in LATS:
        await mover.send(pli_xml("MOVER", "MOVER", lat=lat, lon=LON))
    await mover.send(chat_xml("MOVER", "MOVER", "crossing the ridge"))
    context = command_post.server.context
    await eventually(
        lambda: (e := context.router.cache.get("MOVER")) is not None and e.message.event.point.lat == LATS[-1]
    )
    assert context.store is not None
    await context.store.flush()

    page = await command_post.page("alice")
    await page.click("button.tab[data-tab=replay]")
    await page.click("#replay-load")
    await until(page, "document.getElementById('replay-panel').dataset.units === '1'")
    assert await page.locator("#replay-units li").count() == 0  # at the window's start: not heard from yet

    await page.fill("#replay-slider", await page.get_attribute("#replay-slider", "max") or "")
    await until(
        page, f"!!document.querySelector('#replay-units li[data-uid=MOVER][data-lat=\"{LATS[-1]}\"]')"
    )
    assert "crossing the ridge" in await page.inner_text("#replay-log")
    at = await camera_at_rest(page, LON, LATS[-1])

    async def drawn() -> bool:
        return await replay_pixels(page, at["x"], at["y"]) > 20

    await eventually(drawn, what="the replayed unit drawn where it was")

    href = await page.get_attribute("#replay-kml", "href")
    assert href is not None
    kml = await page.request.get(command_post.url.rstrip("/") + href)
    assert kml.ok
    body = await kml.text()
    assert "<name>MOVER</name>" in body
    assert f"{LON},{LATS[0]} {LON},{LATS[1]} {LON},{LATS[2]}" in body
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]
    await mover.close()
