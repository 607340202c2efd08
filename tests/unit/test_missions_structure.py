"""The reshaping journal ops (update, parent, layers, map layers, feeds, uninvite) replay to the
same state, the layer checks refuse loops, and the KML writer's output is well-formed KML."""

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from rallypoint.errors import InvalidMissionRequest, MissionNotFound
from rallypoint.missions.book import MissionBook, stream_of
from rallypoint.missions.feeds import new_feed
from rallypoint.missions.kml import KmlItem, Position, kml_document
from rallypoint.missions.layers import check_map_layer, check_parent, layers_json, new_layer
from rallypoint.missions.model import log_json, mission_json
from rallypoint.store.base import JournalEntry

GUID = "0b0f4c2e-5d0e-4e4b-9d43-5f6c3a0d1e77"
CREATE = {
    "op": "create",
    "name": "op",
    "groups": ["ops"],
    "creatorUid": "CP-1",
    "defaultRole": "MISSION_SUBSCRIBER",
}


def journal(bodies: list[dict[str, Any]]) -> list[JournalEntry]:
    return [
        JournalEntry(n, stream_of(GUID), 1_700_000_000_000 + n, "CP-1", json.dumps(body))
        for n, body in enumerate(bodies, start=1)
    ]


def replayed(entries: list[JournalEntry]) -> MissionBook:
    book = MissionBook()
    for entry in entries:
        book.apply(entry, json.loads(entry.body))
    return book


def test_structure_ops_replay_to_the_same_mission() -> None:
    book = replayed(journal([CREATE]))
    mission = book.missions[GUID]
    group = new_layer(mission, name="Recon", kind="GROUP", uid="g", parent=None, after=None)
    bodies: list[dict[str, Any]] = [CREATE, group]
    entries = journal(bodies)
    book = replayed(entries)
    spots = new_layer(book.missions[GUID], name="Spots", kind="UID", uid="s", parent="g", after=None)
    bodies += [
        spots,
        {"op": "add_content", "resources": [], "uids": [{"uid": "spot-9", "details": {"type": "b-m-p"}}]},
        {"op": "layer", "action": "file", "uid": "s", "uids": ["spot-9"]},
        {"op": "layer", "action": "rename", "uid": "s", "name": "Targets"},
        {"op": "update", "fields": {"description": "bridge", "expiration": 1_900_000_000, "bbox": "1,2,3,4"}},
        {"op": "map_layer", "action": "put", "layer": {"uid": "m", "name": "OSM", "url": "https://t/{z}"}},
        {"op": "parent", "parent": "another-guid", "parentName": "other"},
        {"op": "layer", "action": "rename", "uid": "gone", "name": "never"},
    ]
    first, second = replayed(journal(bodies)), replayed(journal(bodies))
    mission = first.missions[GUID]
    assert mission_json(mission) == mission_json(second.missions[GUID])
    assert layers_json(mission) == layers_json(second.missions[GUID])
    tree = layers_json(mission)
    assert tree[0]["name"] == "Recon"
    assert tree[0]["mission_layers"][0]["name"] == "Targets"
    assert tree[0]["mission_layers"][0]["uids"][0]["data"] == "spot-9"
    data = mission_json(mission)
    assert (data["description"], data["expiration"], data["bbox"]) == ("bridge", 1_900_000_000, "1,2,3,4")
    assert data["mapLayers"] == [{"uid": "m", "name": "OSM", "url": "https://t/{z}"}]
    assert mission.parent == "another-guid"


def test_layer_checks_refuse_loops_unknown_parents_and_nested_map_layers() -> None:
    bodies = [
        CREATE,
        {"op": "layer", "action": "add", "layer": {"uid": "a", "name": "A", "type": "GROUP", "parent": None}},
        {"op": "layer", "action": "add", "layer": {"uid": "b", "name": "B", "type": "GROUP", "parent": "a"}},
    ]
    mission = replayed(journal(bodies)).missions[GUID]
    with pytest.raises(InvalidMissionRequest):
        check_parent(mission, "a", "b")
    with pytest.raises(MissionNotFound):
        check_parent(mission, "a", "nowhere")
    with pytest.raises(InvalidMissionRequest):
        new_layer(mission, name="C", kind="FOLDER", uid=None, parent=None, after=None)
    with pytest.raises(InvalidMissionRequest):
        check_map_layer({"name": {"nested": 1}}, mission, new=True)
    with pytest.raises(MissionNotFound):
        check_map_layer({"uid": "unknown"}, mission, new=False)


def test_kml_is_well_formed_whatever_the_names() -> None:
    positions = (Position(2_000, 1.0, 2.0, 3.0), Position(1_000, 0.5, 2.0, 3.0))
    items = [KmlItem("u<1>", 'A "&" <B>', "a-f-G", positions), KmlItem("empty", "x", "a-f-G", ())]
    root = ET.fromstring(kml_document("t&<", items))
    kml = "{http://www.opengis.net/kml/2.2}"
    names = [element.text for element in root.iter(f"{kml}name")]
    assert names == ["t&<", "t&<", 'A "&" <B>', 'A "&" <B> track']
    line = next(root.iter(f"{kml}coordinates"))
    assert line.text == "2.0000000,1.0000000,3.0"  # the latest position
    track = list(root.iter(f"{kml}coordinates"))[1].text or ""
    assert [p.split(",")[1] for p in track.split()] == ["0.5000000", "1.0000000"]


def test_feeds_replay_and_old_map_layer_times_read_as_iso() -> None:
    book = replayed(journal([CREATE]))
    added = new_feed(
        book.missions[GUID],
        data_feed="ops-tracks",
        polygon=["1,2", "1,3", "2,3", "1,2"],
        cot_types='["b-m-p", "a-f-G", "b-m-p"]',
        callsign=None,
    )
    old_layer = {"uid": "m", "name": "OSM", "createTime": 1_700_000_000_000}
    bodies: list[dict[str, Any]] = [CREATE, added, {"op": "map_layer", "action": "put", "layer": old_layer}]
    mission = replayed(journal(bodies)).missions[GUID]
    (feed,) = mission_json(mission)["feeds"]
    assert feed["filterPolygon"] == "1 2,1 3,2 3,1 2", "an already closed ring is not closed twice"
    assert feed["filterCotTypesSerialized"] == '["a-f-G","b-m-p"]'
    assert "filterCallsign" not in feed
    assert mission.map_layers["m"]["createTime"] == "2023-11-14T22:13:20.000Z"
    removed = [*bodies, {"op": "feed", "action": "delete", "uid": feed["uid"]}]
    assert replayed(journal(removed)).missions[GUID].feeds == {}


@pytest.mark.parametrize(
    ("points", "types"),
    [(["1,2", "3,4"], None), (["1,2", "3,4", "nan,1"], None), (["1,2,3", "3,4", "5,6"], None), ([], "[1]")],
)
def test_feed_filters_refuse_what_is_not_a_polygon_or_a_type_list(
    points: list[str], types: str | None
) -> None:
    mission = replayed(journal([CREATE])).missions[GUID]
    with pytest.raises(InvalidMissionRequest):
        new_feed(mission, data_feed="f", polygon=points, cot_types=types, callsign=None)


def test_log_times_are_written_as_iso_strings() -> None:
    entry = {
        "id": "1",
        "servertime": 1_700_000_000_000,
        "dtg": 0,
        "created": 1_700_000_000_001,
        "content": "x",
    }
    assert log_json(entry) == {
        "id": "1",
        "servertime": "2023-11-14T22:13:20.000Z",
        "dtg": "1970-01-01T00:00:00.000Z",
        "created": "2023-11-14T22:13:20.001Z",
        "content": "x",
    }
    assert entry["servertime"] == 1_700_000_000_000, "the stored entry keeps its milliseconds"


def test_item_keywords_replay_and_go_with_their_item() -> None:
    item = {"op": "add_content", "resources": [], "uids": [{"uid": "spot-1", "details": {}}]}
    tagged = {"op": "item_keywords", "kind": "uid", "key": "spot-1", "keywords": ["bridge"]}
    mission = replayed(journal([CREATE, item, tagged])).missions[GUID]
    assert mission_json(mission)["uids"][0]["keywords"] == ["bridge"]
    removed = {"op": "remove_content", "uid": "spot-1"}
    again = replayed(journal([CREATE, item, tagged, removed, item])).missions[GUID]
    assert mission_json(again)["uids"][0]["keywords"] == []
