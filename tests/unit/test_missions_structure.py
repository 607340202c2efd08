"""The reshaping journal ops (update, parent, layers, map layers, uninvite) replay to the same
state, the layer checks refuse loops, and the KML writer's output is well-formed KML."""

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from rallypoint.errors import InvalidMissionRequest, MissionNotFound
from rallypoint.missions.book import MissionBook, stream_of
from rallypoint.missions.kml import KmlItem, Position, kml_document
from rallypoint.missions.layers import check_map_layer, check_parent, layers_json, new_layer
from rallypoint.missions.model import mission_json
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
