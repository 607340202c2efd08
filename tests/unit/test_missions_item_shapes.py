"""A mission's map items drawn as the TAK clients draw them: rectangles and freehand polygons
as polygons, routes and open freehand lines as lines, circles as round polygons, markers as
points, and an item without a stored event at its UidDetails location."""

import math

from rallypoint.cot.shapes import MAX_SHAPE_POINTS
from rallypoint.cot.xml import XmlLimits
from rallypoint.missions.item_shapes import CIRCLE_VERTICES, item_json
from rallypoint.missions.model import UidContent

LIMITS = XmlLimits()
LAT, LON = 38.89, -77.03


def event(uid: str, cot_type: str, detail: str, lat: float = LAT, lon: float = LON) -> str:
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="h-e" time="2026-01-01T00:00:00Z"'
        ' start="2026-01-01T00:00:00Z" stale="2026-01-02T00:00:00Z">'
        f'<point lat="{lat}" lon="{lon}" hae="0" ce="9999999" le="9999999"/><detail>{detail}</detail></event>'
    )


def item(uid: str, cot_type: str, xml: str | None) -> UidContent:
    details = {"type": cot_type, "callsign": uid, "location": {"lat": LAT, "lon": LON}}
    return UidContent(uid, 1_700_000_000_000, "ANDROID-1", details, xml)


def links(*points: tuple[float, float], relation: str = "") -> str:
    rel = f' relation="{relation}" uid="w" type="b-m-p-w"' if relation else ""
    return "".join(f'<link point="{lat},{lon}"{rel}/>' for lat, lon in points)


CORNERS = ((38.9, -77.04), (38.9, -77.02), (38.88, -77.02), (38.88, -77.04))


def test_a_rectangle_is_a_closed_polygon_through_its_corners() -> None:
    answer = item_json(item("rect-1", "u-d-r", event("rect-1", "u-d-r", links(*CORNERS))), LIMITS)
    assert (answer["type"], answer["callsign"], answer["creatorUid"]) == ("u-d-r", "rect-1", "ANDROID-1")
    geometry = answer["geometry"]
    assert geometry["type"] == "Polygon"
    ring = geometry["coordinates"][0]
    assert ring[0] == ring[-1] == [-77.04, 38.9]
    assert len(ring) == 5


def test_a_route_is_a_line_through_its_waypoints_and_an_open_drawing_too() -> None:
    route = event("route-1", "b-m-r", links((38.9, -77.04), (38.91, -77.03), relation="c"))
    geometry = item_json(item("route-1", "b-m-r", route), LIMITS)["geometry"]
    assert geometry == {"type": "LineString", "coordinates": [[-77.04, 38.9], [-77.03, 38.91]]}
    line = event("line-1", "u-d-f", links(*CORNERS))
    assert item_json(item("line-1", "u-d-f", line), LIMITS)["geometry"]["type"] == "LineString"
    closed = event("poly-1", "u-d-f", links(*CORNERS, CORNERS[0]))
    assert item_json(item("poly-1", "u-d-f", closed), LIMITS)["geometry"]["type"] == "Polygon"


def test_a_circle_is_a_round_polygon_of_its_radius() -> None:
    detail = '<shape><ellipse major="500" minor="500" angle="360"/></shape>'
    geometry = item_json(item("circle-1", "u-d-c-c", event("circle-1", "u-d-c-c", detail)), LIMITS)[
        "geometry"
    ]
    ring = geometry["coordinates"][0]
    assert geometry["type"] == "Polygon"
    assert len(ring) == CIRCLE_VERTICES + 1
    assert ring[0] == ring[-1]
    north = ring[0]  # bearing 0: due north of the centre
    assert abs((north[1] - LAT) * math.pi / 180 * 6_371_008.8 - 500) < 1


def test_a_marker_is_a_point_and_a_bad_or_missing_event_falls_back_to_its_location() -> None:
    marker = event("spot-1", "b-m-p-s-m", '<contact callsign="Spot"/>', lat=38.5, lon=-77.5)
    assert item_json(item("spot-1", "b-m-p-s-m", marker), LIMITS)["geometry"] == {
        "type": "Point",
        "coordinates": [-77.5, 38.5],
    }
    assert item_json(item("gone", "a-f-G", None), LIMITS)["geometry"] == {
        "type": "Point",
        "coordinates": [LON, LAT],
    }
    assert item_json(item("bad", "a-f-G", "<event"), LIMITS)["geometry"] == {
        "type": "Point",
        "coordinates": [LON, LAT],
    }
    nowhere = UidContent("x", 0, "", {}, None)
    assert item_json(nowhere, LIMITS)["geometry"] is None


def test_vertices_out_of_range_are_dropped_and_a_huge_drawing_is_cut() -> None:
    odd = event(
        "odd", "u-d-f", '<link point="95,10"/><link point="a,b"/><link point="1"/>' + links(*CORNERS[:2])
    )
    assert item_json(item("odd", "u-d-f", odd), LIMITS)["geometry"]["coordinates"] == [
        [-77.04, 38.9],
        [-77.02, 38.9],
    ]
    many = event("many", "u-d-f", links(*((38 + i * 1e-5, -77.0) for i in range(MAX_SHAPE_POINTS + 50))))
    limits = XmlLimits(max_event_bytes=1 << 20)
    assert len(item_json(item("many", "u-d-f", many), limits)["geometry"]["coordinates"]) == MAX_SHAPE_POINTS
