"""The objective state machine (pure: times passed in) and request validation."""

import pytest

from rallypoint.errors import InvalidMissionRequest, MissionConflict
from rallypoint.missions import objectives as obj

POINT = {"type": "Point", "coordinates": [2.5, 1.5]}
SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]}


def fields(**extra: object) -> dict[str, object]:
    return obj.check_fields({"title": "Bridge", "description": "Hold it", "geometry": POINT, **extra})


def test_full_lifecycle_records_every_step() -> None:
    o = obj.designate("6f1c2d3e-aaaa-bbbb-cccc-000000000000", "g", fields(), "cp", 1000)
    assert o.state == obj.DESIGNATED
    assert o.short_id == "OBJ-6F1C2D3E"
    o = obj.assign(o, "Cyan", "cp", 2000)
    o = obj.transition(o, obj.ACKNOWLEDGED, "alpha", 3000)
    o = obj.transition(o, obj.IN_PROGRESS, "alpha", 4000)
    o = obj.transition(o, obj.DONE, "alpha", 5000)
    assert [(s.state, s.author, s.time) for s in o.history] == [
        ("designated", "cp", 1000),
        ("assigned", "cp", 2000),
        ("acknowledged", "alpha", 3000),
        ("in_progress", "alpha", 4000),
        ("done", "alpha", 5000),
    ]
    assert o.assignee == "Cyan"
    assert o.assigned_at == 2000


def test_designate_with_assignee_is_assigned_at_once() -> None:
    o = obj.designate("id", "g", fields(assignee="Alpha"), "cp", 10)
    assert o.state == obj.ASSIGNED
    assert [s.state for s in o.history] == ["designated", "assigned"]


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ((), obj.ACKNOWLEDGED),
        ((), obj.DONE),
        ((obj.CANCELLED,), obj.IN_PROGRESS),
    ],
)
def test_illegal_moves_conflict(path: tuple[str, ...], bad: str) -> None:
    o = obj.designate("id", "g", fields(), "cp", 0)
    for state in path:
        o = obj.transition(o, state, "cp", 1)
    with pytest.raises(MissionConflict):
        obj.transition(o, bad, "cp", 2)


def test_done_is_final_even_for_assign() -> None:
    o = obj.designate("id", "g", fields(assignee="A"), "cp", 0)
    o = obj.transition(o, obj.IN_PROGRESS, "a", 1)
    o = obj.transition(o, obj.DONE, "a", 2)
    with pytest.raises(MissionConflict):
        obj.assign(o, "B", "cp", 3)


def test_unknown_state_and_assign_through_transition_are_refused() -> None:
    o = obj.designate("id", "g", fields(), "cp", 0)
    with pytest.raises(InvalidMissionRequest):
        obj.transition(o, "finished", "cp", 1)
    with pytest.raises(InvalidMissionRequest):
        obj.transition(o, obj.ASSIGNED, "cp", 1)


def test_escalation_due_once_after_deadline() -> None:
    o = obj.designate("id", "g", fields(assignee="A"), "cp", 1000)
    assert not obj.escalation_due(o, 1000 + 599_999, 600_000)
    assert obj.escalation_due(o, 1000 + 600_000, 600_000)
    assert not obj.escalation_due(obj.escalate(o), 10**9, 600_000)
    acked = obj.transition(o, obj.ACKNOWLEDGED, "a", 2000)
    assert not obj.escalation_due(acked, 10**9, 600_000)
    reassigned = obj.assign(obj.escalate(o), "B", "cp", 5000)
    assert not reassigned.escalated
    assert reassigned.assigned_at == 5000


def test_polygon_geometry_round_trips_as_geojson() -> None:
    o = obj.designate("id", "g", fields(geometry=SQUARE), "cp", 0)
    assert o.geometry.kind == "Polygon"
    assert len(o.geometry.vertices) == 4
    assert o.geometry.center == (0.5, 0.5)
    assert o.geometry.to_geojson() == SQUARE


@pytest.mark.parametrize(
    "body",
    [
        {"description": "x", "geometry": POINT},
        {"title": "   ", "geometry": POINT},
        {"title": "x" * 201, "geometry": POINT},
        {"title": "t", "geometry": {"type": "Point", "coordinates": [200, 0]}},
        {"title": "t", "geometry": {"type": "Point", "coordinates": ["a", 0]}},
        {"title": "t", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
        {"title": "t", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}},
        {"title": "t", "geometry": POINT, "priority": "whenever"},
        {"title": "t", "geometry": POINT, "due": -5},
        {"title": "t", "geometry": POINT, "due": True},
        {"title": "t", "geometry": None},
    ],
)
def test_bad_fields_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(InvalidMissionRequest):
        obj.check_fields(body)


def test_objective_json_has_the_web_shape() -> None:
    o = obj.designate("id-1", "g", fields(assignee="A", due=5000, priority="high"), "cp", 10)
    data = obj.objective_json(o, "op")
    assert data["mission"] == "op"
    assert data["due"] == 5000
    assert data["priority"] == "high"
    assert data["geometry"] == POINT
    assert data["history"][-1] == {"state": "assigned", "author": "cp", "time": 10}
