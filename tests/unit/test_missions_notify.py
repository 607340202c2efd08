"""Data Sync notifications and objective markers: the XML TAK clients parse (reference §4.5)."""

import xml.etree.ElementTree as ET

from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.missions import notify
from rallypoint.missions.model import ADD_CONTENT, Change, Mission
from rallypoint.missions.objectives import check_fields, designate
from tests.conftest import fixture_bytes

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]}


def mission() -> Mission:
    return Mission("g-1", "op", "", frozenset({"ops"}), "CP-1", "public", 0, "MISSION_SUBSCRIBER")


def test_change_has_takservers_element_order() -> None:
    change = Change(
        7, ADD_CONTENT, 1_000, "CP-1", "added", "spot-1", details={"type": "b-m-p-s-m", "callsign": "S"}
    )
    event = notify.mission_event(
        notify.CHANGED, mission(), 2_000, author="CP-1", inner=notify.changes_xml(mission(), [change])
    )
    ours = ET.fromstring(serialize_event(parse_event(serialize_event(event))))
    theirs = ET.fromstring(fixture_bytes("mission_change_property_takserver.xml"))
    assert (ours.get("type"), ours.get("how")) == ("t-x-m-c", theirs.get("how"))
    ours_mission, theirs_mission = ours.find("detail/mission"), theirs.find("detail/mission")
    assert ours_mission is not None
    assert theirs_mission is not None
    assert sorted(ours_mission.attrib) == sorted(theirs_mission.attrib)
    ours_fields = [child.tag for child in ours_mission.iterfind("MissionChanges/MissionChange/*")]
    theirs_fields = [child.tag for child in theirs_mission.iterfind("MissionChanges/MissionChange/*")]
    assert [tag for tag in ours_fields if tag in theirs_fields] == [
        t for t in theirs_fields if t in ours_fields
    ]
    assert len(set(ours_fields) & set(theirs_fields)) == 6
    assert ours_mission.findtext("MissionChanges/MissionChange/contentUid") == "spot-1"
    details = ours_mission.find("MissionChanges/MissionChange/details")
    assert details is not None
    assert details.attrib == {"type": "b-m-p-s-m", "callsign": "S"}


def test_area_objective_is_a_closed_shape_with_the_extension() -> None:
    objective = designate(
        "0a1b2c3d-0000",
        "g-1",
        check_fields({"title": "Ford <A>", "geometry": SQUARE, "assignee": "Cyan"}),
        "cp",
        0,
    )
    event = notify.objective_marker(objective, mission(), 1_000)
    root = ET.fromstring(serialize_event(event))
    assert root.get("type") == "u-d-f"
    points = [link.get("point") for link in root.iter("link")]
    assert points[0] == points[-1]
    assert len(points) == 5
    extension = root.find("detail/__objective")
    assert extension is not None
    assert (extension.get("short"), extension.get("state"), extension.get("assignee")) == (
        "OBJ-0A1B2C3D",
        "assigned",
        "Cyan",
    )
    assert root.find("detail/contact").get("callsign") == "OBJ-0A1B2C3D Ford <A>"  # type: ignore[union-attr]
    assert "DONE OBJ-0A1B2C3D" in (root.findtext("detail/remarks") or "")
