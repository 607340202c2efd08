"""Map drawings as CoT: spot markers and TAK's drawing shapes, built from typed values.

The shapes are the ones ATAK's drawing tools exchange (fixtures ``marker_spot_atak.xml``,
``drawing_*_atak.xml``): a spot marker ``b-m-p-s-m`` with ``<color argb>`` and a spot-map
``usericon``; a free-form polygon or line ``u-d-f`` and a rectangle ``u-d-r`` with one bare
``<link point="lat,lon"/>`` per vertex (a closed polygon repeats its first vertex last); a
circle ``u-d-c-c`` whose ``<shape><ellipse major minor angle>`` gives the radius around the
event's point, with the KML style link older clients read; a range and bearing line ``u-rb-a``
whose ``range`` (metres) and ``bearing`` (degrees true) run from the event's point. Colours
are ``strokeColor`` / ``fillColor`` / ``color`` values: signed 32-bit ARGB integers.

Every element is built with lxml, which escapes attribute values and text itself; user text
is checked first (length, no control characters), so nothing a user types is ever spliced
into XML. The result goes through :func:`~rallypoint.cot.xml.parse_detail` like any received
detail. Sans-I/O: the caller passes the uid, the creator and the time.
"""

import math
import unicodedata
from typing import NamedTuple

from lxml import etree

from rallypoint.cot import types
from rallypoint.cot.event import UNKNOWN_DISTANCE, Event, Point
from rallypoint.cot.shapes import range_bearing
from rallypoint.cot.timefmt import format_time
from rallypoint.cot.xml import format_number, parse_detail
from rallypoint.errors import InvalidEvent

MARKER_TYPE = "b-m-p-s-m"
FREEFORM_TYPE = "u-d-f"
RECTANGLE_TYPE = "u-d-r"
CIRCLE_TYPE = "u-d-c-c"
RANGE_BEARING_TYPE = "u-rb-a"

MARKER, POLYGON, POLYLINE, RECTANGLE, CIRCLE = "marker", "polygon", "polyline", "rectangle", "circle"
RANGE_BEARING = "rangebearing"
KIND_TYPES = {
    MARKER: MARKER_TYPE,
    POLYGON: FREEFORM_TYPE,
    POLYLINE: FREEFORM_TYPE,
    RECTANGLE: RECTANGLE_TYPE,
    CIRCLE: CIRCLE_TYPE,
    RANGE_BEARING: RANGE_BEARING_TYPE,
}
"""What the page may draw, and the CoT type each becomes."""

MAX_POINTS = 500
"""Vertices of one shape: ~55 bytes each, so the largest event stays far below the 64 KiB cap."""
MIN_POINTS = {MARKER: 1, POLYGON: 3, POLYLINE: 2, RECTANGLE: 2, CIRCLE: 1, RANGE_BEARING: 2}
MAX_LABEL_CHARS = 200
"""A callsign-like name shown beside the item on every map."""
MAX_REMARKS_CHARS = 2000
MAX_RADIUS_M = 500_000.0
"""A circle wider than a country is a mistake, not an incident area."""
DRAWING_STALE_MS = 24 * 3600 * 1000
"""How long a drawing stays valid: what ATAK writes for its shapes."""
STROKE_WEIGHT = 3.0
FILL_ALPHA = 0x60
"""Opacity of a closed shape's fill: the map under it stays readable."""
CREATOR_TYPE = "a-f-G-U-C"
SHAPE_HOW = "h-e"
MARKER_HOW = "h-g-i-g-o"
DELETE_HOW = "m-g"
DELETE_LIFETIME_MS = 20_000


class Creator(NamedTuple):
    """Who draws: the uid and callsign the ``p-p`` link of a marker names."""

    uid: str
    callsign: str


class Drawing(NamedTuple):
    """One marker or shape as the page asks for it; points are ``(lat, lon)``."""

    kind: str
    points: tuple[tuple[float, float], ...]
    label: str
    colour: int
    """Opaque ARGB as an unsigned 32-bit integer (``0xFFRRGGBB``)."""
    radius_m: float = 0.0
    remarks: str = ""


def signed_argb(argb: int) -> int:
    """ARGB as TAK writes it: a signed 32-bit integer (opaque red is ``-65536``)."""
    argb &= 0xFFFFFFFF
    return argb - (1 << 32) if argb & 0x80000000 else argb


def check_drawing(drawing: Drawing) -> None:
    """Refuse what would not be a sound drawing (InvalidEvent says what is wrong)."""
    if drawing.kind not in KIND_TYPES:
        raise InvalidEvent(f"unknown drawing kind {drawing.kind[:32]!r}")
    count = len(drawing.points)
    low = MIN_POINTS[drawing.kind]
    high = {MARKER: 1, CIRCLE: 1, RANGE_BEARING: 2}.get(drawing.kind, MAX_POINTS)
    if drawing.kind == RECTANGLE and count not in (2, 4):
        raise InvalidEvent("a rectangle takes two opposite corners or its four corners")
    if not low <= count <= high:
        raise InvalidEvent(f"a {drawing.kind} takes {low} to {high} points, not {count}")
    for lat, lon in drawing.points:
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidEvent("a point is outside WGS-84 bounds")
    if drawing.kind == CIRCLE and not (
        math.isfinite(drawing.radius_m) and 0 < drawing.radius_m <= MAX_RADIUS_M
    ):
        raise InvalidEvent(f"a circle's radius is more than 0 and at most {MAX_RADIUS_M:.0f} m")
    check_text(drawing.label, "label", MAX_LABEL_CHARS, required=True)
    check_text(drawing.remarks, "remarks", MAX_REMARKS_CHARS, multiline=True)
    if not 0 <= drawing.colour <= 0xFFFFFFFF:
        raise InvalidEvent("a colour is a 32-bit ARGB value")


def check_text(text: str, name: str, limit: int, *, required: bool = False, multiline: bool = False) -> None:
    """Text a user typed: bounded, and free of control characters (newlines in remarks only)."""
    if required and not text.strip():
        raise InvalidEvent(f"the {name} is empty")
    if len(text) > limit:
        raise InvalidEvent(f"the {name} holds at most {limit} characters")
    allowed = "\n\t" if multiline else ""
    for char in text:
        if char not in allowed and unicodedata.category(char) in ("Cc", "Cs", "Cn"):
            raise InvalidEvent(f"the {name} holds a control or unassigned character")


def drawing_event(drawing: Drawing, *, uid: str, creator: Creator, now_ms: int) -> Event:
    """The CoT event of ``drawing`` (checked first), as ATAK would send it."""
    check_drawing(drawing)
    cot_type = KIND_TYPES[drawing.kind]
    if drawing.kind == MARKER:
        children = _marker_detail(drawing, creator, now_ms)
        lat, lon = drawing.points[0]
    else:
        children, (lat, lon) = _shape_detail(drawing, uid)
    detail = parse_detail("".join(etree.tostring(child, encoding="unicode") for child in children))
    return Event(
        uid=uid,
        type=cot_type,
        how=MARKER_HOW if drawing.kind == MARKER else SHAPE_HOW,
        time=now_ms,
        start=now_ms,
        stale=now_ms + DRAWING_STALE_MS,
        point=Point(lat, lon, UNKNOWN_DISTANCE, UNKNOWN_DISTANCE, UNKNOWN_DISTANCE),
        detail=detail,
    )


def delete_event(target_uid: str, target_type: str, *, uid: str, now_ms: int) -> Event:
    """``t-x-d-d`` that removes ``target_uid`` from every map (``__forcedelete``, reference §1.7)."""
    link = _element("link", uid=target_uid, relation="none", type=target_type or "none")
    xml = etree.tostring(link, encoding="unicode") + "<__forcedelete/>"
    return Event(
        uid=uid,
        type=types.DELETE,
        how=DELETE_HOW,
        time=now_ms,
        start=now_ms,
        stale=now_ms + DELETE_LIFETIME_MS,
        point=Point(0.0, 0.0, 0.0, UNKNOWN_DISTANCE, UNKNOWN_DISTANCE),
        detail=parse_detail(xml),
    )


def _element(tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.Element(tag)
    for name, value in attributes.items():
        element.set(name, value)
    element.text = text
    return element


def _common(drawing: Drawing) -> list[etree._Element]:
    """The elements every drawing ends with: its name, remarks and "keep it" flag."""
    return [
        _element("contact", callsign=drawing.label.strip()),
        _element("remarks", drawing.remarks),
        _element("archive"),
    ]


def _marker_detail(drawing: Drawing, creator: Creator, now_ms: int) -> list[etree._Element]:
    colour = str(signed_argb(drawing.colour))
    return [
        _element("status", readiness="true"),
        _element(
            "link",
            uid=creator.uid,
            production_time=format_time(now_ms),
            type=CREATOR_TYPE,
            parent_callsign=creator.callsign,
            relation="p-p",
        ),
        *_common(drawing),
        _element("color", argb=colour),
        _element("usericon", iconsetpath=f"COT_MAPPING_SPOTMAP/{MARKER_TYPE}/{colour}"),
    ]


def _shape_detail(drawing: Drawing, uid: str) -> tuple[list[etree._Element], tuple[float, float]]:
    """A shape's elements and the point its event carries (the centre)."""
    stroke = signed_argb(drawing.colour)
    fill = signed_argb((FILL_ALPHA << 24) | (drawing.colour & 0xFFFFFF))
    style = [
        _element("strokeColor", value=str(stroke)),
        _element("strokeWeight", value=format_number(STROKE_WEIGHT)),
    ]
    if drawing.kind not in (POLYLINE, RANGE_BEARING):
        style.append(_element("fillColor", value=str(fill)))
    labels = _element("labels_on", value="true")
    if drawing.kind == CIRCLE:
        return [_circle(drawing, uid), *style, *_common(drawing), labels], drawing.points[0]
    if drawing.kind == RANGE_BEARING:
        line = [*_range_bearing(drawing), *style, *_common(drawing), labels]
        return [*line, _element("color", value=str(stroke))], drawing.points[0]
    vertices = list(drawing.points)
    if drawing.kind == RECTANGLE and len(vertices) == 2:
        (lat1, lon1), (lat2, lon2) = vertices
        vertices = [(lat1, lon1), (lat1, lon2), (lat2, lon2), (lat2, lon1)]
    if drawing.kind == POLYGON and vertices[0] != vertices[-1]:
        vertices.append(vertices[0])
    links = [_element("link", point=f"{format_number(lat)},{format_number(lon)}") for lat, lon in vertices]
    return [*links, *style, *_common(drawing), labels], _centre(vertices)


def _circle(drawing: Drawing, uid: str) -> etree._Element:
    """``<shape>``: one ring of the radius, and the KML style link ATAK 3.x clients read."""
    radius = format_number(drawing.radius_m)
    shape = _element("shape")
    shape.append(_element("ellipse", major=radius, minor=radius, angle="360"))
    link = etree.SubElement(shape, "link", uid=f"{uid}.Style", type="b-x-KmlStyle", relation="p-c")
    kml = etree.SubElement(link, "Style")
    line = etree.SubElement(kml, "LineStyle")
    etree.SubElement(line, "color").text = kml_colour(drawing.colour)
    etree.SubElement(line, "width").text = format_number(STROKE_WEIGHT)
    poly = etree.SubElement(kml, "PolyStyle")
    etree.SubElement(poly, "color").text = kml_colour((FILL_ALPHA << 24) | (drawing.colour & 0xFFFFFF))
    return shape


def _range_bearing(drawing: Drawing) -> list[etree._Element]:
    """``range`` and ``bearing`` from the first point to the second, in metres and degrees true
    (``rangeUnits`` 1 and ``bearingUnits`` 0 as ATAK writes them, true north)."""
    metres, bearing = range_bearing(drawing.points[0], drawing.points[1])
    return [
        _element("range", value=format_number(metres)),
        _element("bearing", value=format_number(bearing)),
        _element("inclination", value="0.0"),
        _element("rangeUnits", value="1"),
        _element("bearingUnits", value="0"),
        _element("northRef", value="1"),
    ]


def kml_colour(argb: int) -> str:
    """KML's ``aabbggrr`` hex of an ARGB value."""
    a, r, g, b = (argb >> 24) & 0xFF, (argb >> 16) & 0xFF, (argb >> 8) & 0xFF, argb & 0xFF
    return f"{a:02x}{b:02x}{g:02x}{r:02x}"


def _centre(vertices: list[tuple[float, float]]) -> tuple[float, float]:
    """The middle of the vertices' bounding box (where ATAK puts a shape's own point)."""
    lats = [lat for lat, _ in vertices]
    lons = [lon for _, lon in vertices]
    return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
