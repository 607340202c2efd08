"""Drawings as CoT (``rallypoint.cot.drawing``): each kind built the way ATAK writes it, read
back by the project's own parser and by the shape reader, and hostile input refused or kept
inert (escaped, never markup)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from rallypoint.cot.drawing import (
    DRAWING_STALE_MS,
    MAX_LABEL_CHARS,
    MAX_POINTS,
    Creator,
    Drawing,
    check_drawing,
    delete_event,
    drawing_event,
    kml_colour,
    signed_argb,
)
from rallypoint.cot.shapes import CIRCLE, LINE, POINT, POLYGON, read_shape
from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.errors import InvalidEvent
from tests.conftest import fixture_bytes

NOW = 1_760_000_000_000
ME = Creator("web-alice", "alice")
RED = 0xFFFF0000
SQUARE = ((38.0, -77.0), (38.0, -76.99), (38.01, -76.99), (38.01, -77.0))


def built(drawing: Drawing, uid: str = "d-1") -> tuple[bytes, etree._Element]:
    """The event's bytes, parsed back by the codec and by lxml (for the detail's elements)."""
    data = serialize_event(drawing_event(drawing, uid=uid, creator=ME, now_ms=NOW))
    assert parse_event(data).uid == uid
    return data, etree.fromstring(data)


def test_a_spot_marker_is_what_atak_sends() -> None:
    data, root = built(Drawing("marker", ((38.85, -77.05),), "Casualty 1", RED))
    event = parse_event(data)
    assert (event.type, event.how, event.point.lat, event.point.lon) == (
        "b-m-p-s-m",
        "h-g-i-g-o",
        38.85,
        -77.05,
    )
    assert event.stale - event.time == DRAWING_STALE_MS
    assert event.callsign == "Casualty 1"
    assert root.find("detail/color").get("argb") == "-65536"
    assert root.find("detail/usericon").get("iconsetpath") == "COT_MAPPING_SPOTMAP/b-m-p-s-m/-65536"
    link = root.find("detail/link")
    assert (link.get("uid"), link.get("relation"), link.get("parent_callsign")) == (
        "web-alice",
        "p-p",
        "alice",
    )
    assert read_shape(event) == (POINT, ((38.85, -77.05),), RED, None, 0.0, None, True)
    fixture = etree.fromstring(fixture_bytes("marker_spot_atak.xml"))
    assert {child.tag for child in fixture.find("detail")} >= {child.tag for child in root.find("detail")}


def test_a_polygon_is_closed_and_filled_and_a_line_is_neither() -> None:
    data, root = built(Drawing("polygon", SQUARE, "Sector A", 0xFF00FF00))
    vertices = [link.get("point") for link in root.iterfind("detail/link")]
    assert len(vertices) == 5
    assert vertices[0] == vertices[-1] == "38.0,-77.0"
    assert root.get("type") == "u-d-f"
    assert root.find("detail/strokeColor").get("value") == str(signed_argb(0xFF00FF00))
    assert root.find("detail/fillColor").get("value") == str(signed_argb(0x6000FF00))
    assert root.find("detail/labels_on").get("value") == "true"
    shape = read_shape(parse_event(data))
    assert shape is not None
    assert shape.kind == POLYGON
    assert len(shape.points) == 5
    centre = parse_event(data).point
    assert (centre.lat, centre.lon) == pytest.approx((38.005, -76.995))

    data, root = built(Drawing("polyline", SQUARE[:3], "Route in", RED))
    assert len(root.findall("detail/link")) == 3
    assert root.find("detail/fillColor") is None
    line = read_shape(parse_event(data))
    assert line is not None
    assert line.kind == LINE
    assert line.points == SQUARE[:3]


def test_a_rectangle_from_two_corners_has_four() -> None:
    data, root = built(Drawing("rectangle", (SQUARE[0], SQUARE[2]), "Staging", RED))
    assert root.get("type") == "u-d-r"
    corners = [link.get("point") for link in root.iterfind("detail/link")]
    assert corners == ["38.0,-77.0", "38.0,-76.99", "38.01,-76.99", "38.01,-77.0"]
    shape = read_shape(parse_event(data))
    assert shape is not None
    assert shape.kind == POLYGON
    assert shape.points[0] == shape.points[-1]


def test_a_circle_has_its_radius_in_an_ellipse_and_a_kml_style() -> None:
    data, root = built(Drawing("circle", ((38.83, -77.07),), "Hot zone", RED, radius_m=250.0), uid="c-1")
    ellipse = root.find("detail/shape/ellipse")
    assert (ellipse.get("major"), ellipse.get("minor"), ellipse.get("angle")) == ("250.0", "250.0", "360")
    style = root.find("detail/shape/link")
    assert (style.get("uid"), style.get("type"), style.get("relation")) == (
        "c-1.Style",
        "b-x-KmlStyle",
        "p-c",
    )
    assert root.findtext("detail/shape/link/Style/LineStyle/color") == "ff0000ff"
    assert root.findtext("detail/shape/link/Style/PolyStyle/color") == "600000ff"
    shape = read_shape(parse_event(data))
    assert shape is not None
    assert (shape.kind, shape.radius_m, shape.points) == (
        CIRCLE,
        250.0,
        ((38.83, -77.07),),
    )


def test_a_range_and_bearing_line_runs_from_its_point_to_the_second() -> None:
    start, end = (38.82, -77.055), (38.8256, -77.0486)
    data, root = built(Drawing("rangebearing", (start, end), "R&B 1", RED))
    event = parse_event(data)
    assert (event.type, event.point.lat, event.point.lon) == ("u-rb-a", *start)
    fixture = etree.fromstring(fixture_bytes("rangebearing_line_atak.xml"))
    assert {child.tag for child in root.find("detail")} == {child.tag for child in fixture.find("detail")}
    assert float(root.find("detail/range").get("value")) == pytest.approx(832, abs=5)
    assert float(root.find("detail/bearing").get("value")) == pytest.approx(41.2, abs=0.5)
    shape = read_shape(event)
    assert shape is not None
    assert shape.kind == LINE
    assert shape.points[1] == pytest.approx(end, abs=1e-6)


def test_a_delete_names_its_target_and_forces_removal() -> None:
    event = parse_event(serialize_event(delete_event("d-1", "u-d-f", uid="x-1", now_ms=NOW)))
    assert event.type == "t-x-d-d"
    assert event.detail is not None
    assert event.detail.force_delete
    assert [(link.uid, link.type, link.relation) for link in event.detail.links] == [("d-1", "u-d-f", "none")]


@pytest.mark.parametrize(
    ("name", "kind", "count", "extra"),
    [
        ("drawing_freeform_atak.xml", POLYGON, 7, None),
        ("drawing_rectangle_atak.xml", POLYGON, 5, None),
        ("drawing_circle_atak.xml", CIRCLE, 1, 226.98412686380018),
        ("rangebearing_line_atak.xml", LINE, 2, None),
        ("marker_spot_atak.xml", POINT, 1, None),
    ],
)
def test_shapes_drawn_by_atak_are_read(name: str, kind: str, count: int, extra: float | None) -> None:
    shape = read_shape(parse_event(fixture_bytes(name)))
    assert shape is not None
    assert shape.kind == kind
    assert len(shape.points) == count
    if extra is not None:
        assert shape.radius_m == extra


def test_a_range_and_bearing_line_ends_where_its_range_and_bearing_say() -> None:
    shape = read_shape(parse_event(fixture_bytes("rangebearing_line_atak.xml")))
    assert shape is not None
    (lat1, lon1), (lat2, lon2) = shape.points
    north = (lat2 - lat1) * 111_195
    east = (lon2 - lon1) * 111_195 * math.cos(math.radians(lat1))
    assert math.hypot(north, east) == pytest.approx(886.144, rel=1e-3)
    assert math.degrees(math.atan2(east, north)) == pytest.approx(45.597, abs=0.05)
    assert shape.stroke == 0xFFFF0000


def test_telestrations_and_units_are_not_shapes() -> None:
    assert read_shape(parse_event(fixture_bytes("drawing_telestration_atak.xml"))) is None
    assert read_shape(parse_event(fixture_bytes("pli_atak_civ4_taky.xml"))) is None


@pytest.mark.parametrize(
    "label",
    [
        '"/><marti><dest callsign="ALL"/></marti><x a="',
        "</event><event uid='VICTIM' type='a-h-G'>",
        "<![CDATA[ ]]> & &amp; <!-- -->",
        "' or 1=1 --",
    ],
)
def test_hostile_labels_stay_text(label: str) -> None:
    data, root = built(Drawing("marker", ((1.0, 2.0),), label, RED))
    event = parse_event(data)
    assert event.callsign == label
    assert event.detail is not None
    assert not event.detail.has_marti
    assert event.detail.dests == ()
    assert [child.tag for child in root.find("detail")].count("contact") == 1
    assert data.count(b"<event") == 1


@pytest.mark.parametrize(
    "drawing",
    [
        Drawing("marker", ((1.0, 2.0),), "bell\x07", RED),
        Drawing("marker", ((1.0, 2.0),), "line\nbreak", RED),
        Drawing("marker", ((1.0, 2.0),), "\ud800", RED),
        Drawing("marker", ((1.0, 2.0),), "  ", RED),
        Drawing("marker", ((1.0, 2.0),), "x" * (MAX_LABEL_CHARS + 1), RED),
        Drawing("marker", ((91.0, 2.0),), "north of the pole", RED),
        Drawing("marker", ((1.0, math.nan),), "nowhere", RED),
        Drawing("marker", ((1.0, 2.0), (1.0, 3.0)), "two places", RED),
        Drawing("polygon", SQUARE[:2], "a line", RED),
        Drawing("polyline", ((1.0, 2.0),) * (MAX_POINTS + 1), "too long", RED),
        Drawing("rectangle", SQUARE[:3], "three corners", RED),
        Drawing("rangebearing", SQUARE[:3], "three ends", RED),
        Drawing("circle", ((1.0, 2.0),), "no radius", RED),
        Drawing("circle", ((1.0, 2.0),), "infinite", RED, radius_m=math.inf),
        Drawing("ellipse", ((1.0, 2.0),), "unknown kind", RED),
        Drawing("marker", ((1.0, 2.0),), "remarks", RED, remarks="\x00"),
        Drawing("marker", ((1.0, 2.0),), "colour", 1 << 32),
    ],
)
def test_unsound_drawings_are_refused(drawing: Drawing) -> None:
    with pytest.raises(InvalidEvent):
        check_drawing(drawing)


labels = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), min_size=1, max_size=40).filter(
    lambda text: text.strip() != ""
)
coordinates = st.tuples(st.floats(-90, 90), st.floats(-180, 180))


@given(
    label=labels,
    remarks=labels,
    points=st.lists(coordinates, min_size=3, max_size=20),
    colour=st.integers(0, 0xFFFFFF),
)
def test_any_polygon_round_trips(
    label: str, remarks: str, points: list[tuple[float, float]], colour: int
) -> None:
    drawing = Drawing("polygon", tuple(points), label, 0xFF000000 | colour, remarks=remarks)
    data, root = built(drawing)
    event = parse_event(data)
    assert event.callsign == label.strip()
    assert root.findtext("detail/remarks") == remarks
    shape = read_shape(event)
    assert shape is not None
    assert shape.stroke == drawing.colour
    assert shape.points[: len(points)] == tuple(points)


def test_colours_convert_both_ways() -> None:
    assert signed_argb(0xFFFFFFFF) == -1
    assert signed_argb(0x00FF0000) == 0xFF0000
    assert kml_colour(0x96FFFFFF) == "96ffffff"
    assert kml_colour(0xFF112233) == "ff332211"
