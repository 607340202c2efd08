"""The replay's exports built from stored events: what a debrief tool reads back, with text from
the network that must not break the file (markup in a chat, a callsign with quotes)."""

import json
import xml.etree.ElementTree as ET

from rallypoint.cot.xml import DEFAULT_LIMITS
from rallypoint.http.command_post.replay_export import geojson, kml, timeline
from rallypoint.store.base import StoredEvent
from tests.interop.clients import chat_xml, pli_xml

KML = "{http://www.opengis.net/kml/2.2}"
BLUE = frozenset({"blue"})


def stored(xml: bytes, uid: str, cot_type: str, time: int, lat: float = 0.0) -> StoredEvent:
    return StoredEvent(uid, cot_type, time, time + 60_000, lat, 11.0, 0.0, BLUE, None, xml)


def sample() -> dict[str, object]:
    events = [
        stored(pli_xml("U-1", "A&amp;1"), "U-1", "a-f-G-U-C", 1_000, 48.0),
        stored(
            chat_xml("U-1", "A&amp;1", "&lt;b&gt;bold&lt;/b&gt; &amp; more"), "GeoChat.U-1", "b-t-f", 2_000
        ),
        stored(pli_xml("U-1", "A&amp;1"), "U-1", "a-f-G-U-C", 3_000, 48.5),
        stored(b"<event not xml", "U-2", "b-t-f", 4_000),
    ]
    return timeline(events, [], 0, 10_000, DEFAULT_LIMITS)


def test_the_timeline_keeps_positions_and_chat_and_skips_what_does_not_parse() -> None:
    data = sample()
    assert [(p["callsign"], p["lat"]) for p in data["positions"]] == [("A&1", 48.0), ("A&1", 48.5)]  # type: ignore[attr-defined]
    assert [m["text"] for m in data["chat"]] == ["<b>bold</b> & more"]  # type: ignore[attr-defined]


def test_kml_escapes_network_text_and_holds_the_track() -> None:
    document = ET.fromstring(kml(sample()))
    names = [p.findtext(f"{KML}name") for p in document.iter(f"{KML}Placemark")]
    assert names == ["A&1", "A&1 to All Chat Rooms"]
    descriptions = [p.findtext(f"{KML}description") for p in document.iter(f"{KML}Placemark")]
    assert descriptions[1] == "<b>bold</b> & more"
    line = document.find(f".//{KML}LineString/{KML}coordinates")
    assert line is not None
    assert line.text == "11.0,48.0 11.0,48.5"


def test_geojson_is_valid_json_with_one_track_per_unit() -> None:
    collection = json.loads(json.dumps(geojson(sample())))
    tracks = [f for f in collection["features"] if f["properties"]["kind"] == "track"]
    assert [t["geometry"]["coordinates"] for t in tracks] == [[[11.0, 48.0], [11.0, 48.5]]]
    assert tracks[0]["properties"]["times"][0].startswith("1970-01-01T00:00:01")
