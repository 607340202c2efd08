"""The command post's Contact JSON for map items that are not units: a mission objective's marker
is flagged with its objective id (and no shape), so the page draws it once, on the objectives
layer, not a second time as a marker or a unit symbol; an ordinary drawing keeps its shape."""

import pytest

from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.http.command_post.contacts import contact_json
from rallypoint.missions import notify
from rallypoint.missions.objectives import check_fields, designate
from tests.interop.clients import event_xml
from tests.unit.test_missions_notify import SQUARE, mission

POINT = {"type": "Point", "coordinates": [2.5, 1.5]}


@pytest.mark.parametrize(("geometry", "cot_type"), [(POINT, "b-m-p-s-p-i"), (SQUARE, "u-d-f")])
def test_an_objective_marker_is_flagged_and_has_no_shape(geometry: dict[str, object], cot_type: str) -> None:
    objective = designate(
        "6f1c2d3e-aaaa", "g-1", check_fields({"title": "Bridge", "geometry": geometry}), "cp", 1000
    )
    marker = parse_event(serialize_event(notify.objective_marker(objective, mission(), 2000)))
    assert marker.type == cot_type
    contact = contact_json(marker)
    assert contact["objective"] == "6f1c2d3e-aaaa"
    assert contact["shape"] is None


def test_a_devices_cot_answer_to_an_objective_is_flagged_too() -> None:
    answer = event_xml("6f1c2d3e-aaaa", "b-m-p-s-p-i", '<__objective id="6f1c2d3e-aaaa" state="done"/>')
    assert contact_json(parse_event(answer))["objective"] == "6f1c2d3e-aaaa"


def test_a_drawing_keeps_its_shape_and_is_no_objective() -> None:
    marker = event_xml("spot-1", "b-m-p-s-m", '<contact callsign="CCP"/><color argb="-16711936"/>')
    contact = contact_json(parse_event(marker))
    assert contact["objective"] is None
    assert contact["shape"]["kind"] == "point"
