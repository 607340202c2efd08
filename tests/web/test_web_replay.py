"""After-action replay on a real server: a TAK-like client on a raw TCP socket moves, chats,
raises an emergency and checks in to a roll call, the command post designates an objective; the replay of the window holds
all of it in time order, the GeoJSON and KML downloads carry the same, and a user of another
group, a bad window and a caller without a session get nothing."""

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from tests.conftest import RunningServer
from tests.interop.clients import TakClient, chat_xml, cot_time, eventually, pli_xml
from tests.web.conftest import Browser

KML = "{http://www.opengis.net/kml/2.2}"
POINT = {"type": "Point", "coordinates": [11.5, 48.1]}


def emergency(uid: str) -> bytes:
    t, s = cot_time(), cot_time(60)
    return (
        f'<event version="2.0" uid="{uid}-9-1-1" type="b-a-o-tbl" how="m-g" time="{t}" start="{t}" stale="{s}">'
        f'<point lat="48.2" lon="11.6" hae="0" ce="9" le="9"/><detail>'
        f'<link uid="{uid}" type="a-f-G-U-C" relation="p-p"/><contact callsign="{uid}-Alert"/>'
        f'<emergency type="911 Alert">{uid}</emergency></detail></event>'
    ).encode()


async def incident(web_server: RunningServer, alice: Browser) -> tuple[int, int]:
    """Three positions, a chat, an emergency and an objective; the window (ms) they fall in."""
    server = web_server.server
    start = server.context.clock.wall_ms() - 1000
    mover = await TakClient.connect(web_server.ports.tcp, "mover")
    for step in range(3):
        await mover.send(pli_xml("MOVER", "MOVER", lat=48.0 + step / 100, lon=11.0))
    await mover.send(chat_xml("MOVER", "MOVER", "bridge is out"))
    await mover.send(emergency("MOVER"))
    await eventually(lambda: "MOVER-9-1-1" in server.context.router.cache)  # the last one sent is routed
    created = await alice.post("/api/missions", {"name": "op"})
    assert created.status_code == 201, created.text
    designated = await alice.post("/api/missions/op/objectives", {"title": "Bridge", "geometry": POINT})
    assert designated.status_code == 201, designated.text
    started = await alice.post("/api/rollcalls", {})
    assert started.status_code == 201, started.text
    await mover.send(chat_xml("MOVER", "MOVER", "PAR", to_uid="rallypoint", to_callsign="Rallypoint"))
    await eventually(lambda: server.context.counters.get("rollcall_answered") == 1)
    assert server.context.store is not None
    await server.context.store.flush()
    await mover.close()
    return start, server.context.clock.wall_ms() + 1000


async def replay(browser: Browser, **params: Any) -> dict[str, Any]:
    response = await browser.get("/api/replay", **params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_the_window_replays_positions_chat_alerts_and_objectives(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice = browsers()
    await alice.login("alice")
    start, end = await incident(web_server, alice)
    data = await replay(alice, start=start, end=end)
    assert [(p["uid"], p["lat"]) for p in data["positions"]] == [
        ("MOVER", 48.0),
        ("MOVER", 48.01),
        ("MOVER", 48.02),
    ]
    times = [p["time"] for p in data["positions"]]
    assert times == sorted(times)
    assert start <= times[0]
    assert times[-1] <= end
    assert [m["text"] for m in data["chat"]] == ["bridge is out"]
    assert [(a["callsign"], a["active"]) for a in data["alerts"]] == [("MOVER", True)]
    assert [(o["title"], o["state"], o["author"]) for o in data["objectives"]] == [
        ("Bridge", "designated", "alice")
    ]
    assert [r["text"] for r in data["rollcalls"]] == [
        "roll call of all units (1 device) started by alice",
        "MOVER checked in: PAR",
    ]
    assert data["truncated"] is False
    before = await replay(alice, start=start - 3_600_000, end=start - 1)
    assert (before["positions"], before["chat"], before["objectives"]) == ([], [], [])


async def test_exports_carry_the_same_as_downloads(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice = browsers()
    await alice.login("alice")
    start, end = await incident(web_server, alice)
    response = await alice.get("/api/replay/export.geojson", start=start, end=end)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert response.headers["content-disposition"].startswith("attachment;")
    collection = json.loads(response.content)
    kinds = {f["properties"]["kind"]: f for f in collection["features"]}
    assert kinds["track"]["geometry"] == {
        "type": "LineString",
        "coordinates": [[11.0, 48.0], [11.0, 48.01], [11.0, 48.02]],
    }
    assert len(kinds["track"]["properties"]["times"]) == 3
    assert kinds["chat"]["geometry"] is None
    assert kinds["chat"]["properties"]["text"] == "bridge is out"
    assert kinds["objective"]["geometry"]["coordinates"] == [11.5, 48.1]
    assert kinds["alert"]["properties"]["callsign"] == "MOVER"
    assert kinds["alert"]["properties"]["alertType"] == "911 Alert"

    response = await alice.get("/api/replay/export.kml", start=start, end=end)
    assert response.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    document = ET.fromstring(response.content)
    folders = {f.findtext(f"{KML}name"): f for f in document.iter(f"{KML}Folder")}
    [track] = folders["Tracks"].findall(f"{KML}Placemark")
    assert track.findtext(f"{KML}name") == "MOVER"
    assert track.findtext(f"{KML}LineString/{KML}coordinates") == "11.0,48.0 11.0,48.01 11.0,48.02"
    assert track.find(f"{KML}TimeSpan/{KML}begin") is not None
    [chat] = folders["Chat"].findall(f"{KML}Placemark")
    assert chat.findtext(f"{KML}description") == "bridge is out"
    assert len(folders["Alerts"].findall(f"{KML}Placemark")) == 1
    assert len(folders["Objectives"].findall(f"{KML}Placemark")) == 1
    assert len(folders["Roll calls"].findall(f"{KML}Placemark")) == 2


async def test_another_group_a_bad_window_and_no_session_get_nothing(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice, eve = browsers(), browsers()
    await alice.login("alice")
    await eve.login("eve")
    start, end = await incident(web_server, alice)
    seen = await replay(eve, start=start, end=end)
    assert (seen["positions"], seen["chat"], seen["alerts"], seen["objectives"], seen["rollcalls"]) == (
        [],
        [],
        [],
        [],
        [],
    )
    kml = await eve.get("/api/replay/export.kml", start=start, end=end)
    assert b"MOVER" not in kml.content
    assert b"Bridge" not in kml.content
    for window in ({"start": end, "end": start}, {"start": 0, "end": 8 * 24 * 3_600_000}, {"start": "soon"}):
        assert (await alice.get("/api/replay", **window)).status_code == 400
    for path in ("/api/replay", "/api/replay/export.geojson", "/api/replay/export.kml"):
        assert (await browsers().get(path)).status_code == 401
