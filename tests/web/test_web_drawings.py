"""Markers and shapes drawn on the command post reach the TAK clients of the user's groups over
mutual TLS, as the CoT ATAK draws with; changes and deletes follow; another group's client gets
nothing, another user cannot change them, and what a TAK client draws reaches the page as a
shape. Negative checks do not sleep: the client pings and waits for its pong, behind which
anything routed to it earlier would have been written."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.interop.clients import Message, TakClient, event_xml, has_type, has_uid, ping_xml
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S
from tests.web.conftest import INDEX_HTML, Browser

SQUARE = [[-77.0, 38.0], [-76.99, 38.0], [-76.99, 38.01], [-77.0, 38.01]]


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    """The TLS port for the TAK clients and the web port for the command post, side by side."""
    ui = tmp_path / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text(INDEX_HTML)
    return listening(tmp_path, tls_port=0, web_port=0, web_assets_dir=str(ui))


@pytest.fixture
async def page(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Browser]:
    """alice's command post (she is in blue)."""
    pki.add_user("alice", "blue")
    assert tls_server.ports.web is not None
    port = tls_server.ports.web
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=EVENT_TIMEOUT_S) as http:
        browser = Browser(http, port)
        assert (await browser.login("alice", "password-of-alice")).status_code == 200
        yield browser


async def nothing_more(client: TakClient, since: int) -> list[str]:
    """What ``client`` received after ``since`` messages, up to the pong of a ping sent now."""
    await client.send(ping_xml(client.name))
    await client.receive(has_type("t-x-c-t-r"))
    return [m.uid for m in client.history[since:] if m.type not in ("t-x-c-t-r", "t-x-takp-v")]


async def draw(page: Browser, body: dict[str, Any], uid: str | None = None) -> dict[str, Any]:
    if uid is None:
        answer = await page.post("/api/drawings", body)
    else:
        answer = await page.http.put(f"/api/drawings/{uid}", json=body, headers=page.headers())
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def detail_of(message: Message, tag: str) -> dict[str, str]:
    element = message.detail_element().find(tag)
    assert element is not None, message.raw
    return dict(element.attrib)


async def test_a_marker_and_a_shape_reach_the_group_and_are_deleted(
    tls_server: RunningServer, pki: PkiFixture, page: Browser
) -> None:
    bob, carol = pki.add_user("bob", "blue"), pki.add_user("carol", "red")
    async with TlsClients(tls_server, pki) as clients:
        blue, red = await clients.connect(bob), await clients.connect(carol)
        quiet = len(red.history)
        marker = await draw(
            page, {"kind": "marker", "points": [[-77.05, 38.85]], "label": "CCP", "colour": "#00ff00"}
        )
        got = await blue.receive(has_uid(marker["uid"]))
        assert (got.type, got.callsign, got.lat, got.lon) == ("b-m-p-s-m", "CCP", 38.85, -77.05)
        assert detail_of(got, "color") == {"argb": str(0xFF00FF00 - (1 << 32))}
        assert detail_of(got, "link")["uid"] == "web-alice"

        polygon = {"kind": "polygon", "points": SQUARE, "label": "Sector A", "colour": "#ff0000"}
        shape = await draw(page, polygon)
        got = await blue.receive(has_uid(shape["uid"]))
        assert got.type == "u-d-f"
        assert len(got.detail_element().findall("link")) == 5
        assert detail_of(got, "strokeColor") == {"value": "-65536"}

        renamed = await draw(page, {**polygon, "label": "Sector B"}, uid=shape["uid"])
        assert renamed["uid"] == shape["uid"]
        assert (await blue.receive(has_uid(shape["uid"]))).callsign == "Sector B"

        for uid in (marker["uid"], shape["uid"]):
            answer = await page.http.delete(f"/api/drawings/{uid}", headers=page.headers())
            assert answer.status_code == 200, answer.text
            delete = await blue.receive(has_type("t-x-d-d"))
            assert detail_of(delete, "link")["uid"] == uid
            assert delete.detail_element().find("__forcedelete") is not None
        assert await nothing_more(red, quiet) == []
        assert tls_server.server.context.router.cache.get(shape["uid"]) is None


async def test_drawings_are_replayed_and_shown_on_the_page(
    tls_server: RunningServer, pki: PkiFixture, page: Browser
) -> None:
    dora = pki.add_user("dora", "blue")
    circle = {
        "kind": "circle",
        "points": [[-77.07, 38.83]],
        "radius": 250,
        "label": "Hot zone",
        "colour": "#ff8800",
    }
    async with page.live() as live:
        await live.receive(lambda message: message["type"] == "snapshot")
        drawn = await draw(page, circle)
        shown = await live.receive(lambda m: m["type"] == "contact" and m["contact"]["uid"] == drawn["uid"])
        assert shown["contact"]["shape"]["kind"] == "circle"
        assert shown["contact"]["shape"]["radius"] == 250
        assert shown["contact"]["shape"]["colour"] == "#ff8800"
        async with TlsClients(tls_server, pki) as clients:
            late = await clients.connect(dora)
            replayed = late.seen(has_uid(drawn["uid"]))
            assert [m.type for m in replayed] == ["u-d-c-c"]
            assert detail_of(replayed[0], "shape/ellipse")["major"] == "250.0"

            rectangle = event_xml(
                "atak-rect",
                "u-d-r",
                "".join(f'<link point="{lat},{lon}"/>' for lon, lat in SQUARE)
                + '<strokeColor value="-1"/><contact callsign="Rectangle 1"/>',
                how="h-e",
            )
            await late.send(rectangle)
            got = await live.receive(lambda m: m["type"] == "contact" and m["contact"]["uid"] == "atak-rect")
            assert got["contact"]["shape"]["kind"] == "polygon"
            assert got["contact"]["shape"]["coordinates"][0] == got["contact"]["shape"]["coordinates"][-1]
            refused = await page.http.delete("/api/drawings/atak-rect", headers=page.headers())
            assert refused.status_code == 403, refused.text


async def test_drawings_are_checked(tls_server: RunningServer, pki: PkiFixture, page: Browser) -> None:
    pki.add_user("erin", "red")
    pki.add_user("finn", "blue")
    bad = [
        {"kind": "ellipse", "points": [[0, 0]], "label": "x"},
        {"kind": "marker", "points": [[0, 91]], "label": "x"},
        {"kind": "marker", "points": [["0", 0]], "label": "x"},
        {"kind": "marker", "points": [[0, 0]], "label": "x" * 201},
        {"kind": "marker", "points": [[0, 0]], "label": "bell\u0007"},
        {"kind": "marker", "points": [[0, 0]], "label": "x", "colour": "red"},
        {"kind": "polyline", "points": [[0, 0]] * 501, "label": "x"},
        {"kind": "circle", "points": [[0, 0]], "label": "x", "radius": -1},
    ]
    for body in bad:
        answer = await page.post("/api/drawings", body)
        assert answer.status_code == 400, (body, answer.text)
    no_csrf = await page.http.post(
        "/api/drawings", json=bad[0], headers={"Cookie": f"rp_session={page.cookie}"}
    )
    assert no_csrf.status_code == 403
    drawn = await draw(page, {"kind": "marker", "points": [[1, 2]], "label": "mine"})
    assert tls_server.ports.web is not None
    async with httpx.AsyncClient(base_url=page.origin, timeout=EVENT_TIMEOUT_S) as http:
        other = Browser(http, tls_server.ports.web)
        assert (await other.login("erin", "password-of-erin")).status_code == 200
        unseen = await other.http.delete(f"/api/drawings/{drawn['uid']}", headers=other.headers())
        assert unseen.status_code == 404
        assert (await other.login("finn", "password-of-finn")).status_code == 200
        body = {"kind": "marker", "points": [[1, 2]], "label": "not yours"}
        theirs = await other.http.put(f"/api/drawings/{drawn['uid']}", json=body, headers=other.headers())
        assert theirs.status_code == 403, theirs.text
    missing = await page.http.delete("/api/drawings/no-such-thing", headers=page.headers())
    assert missing.status_code == 404
