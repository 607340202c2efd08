"""The geometry and style of a drawn map item, read back from any sender's CoT event.

A map that draws a shape at its centre as a unit symbol misreads it (issue 16, point 6): this
reads what TAK clients send so a map can draw the shape itself. Free-form shapes and
rectangles carry one ``<link point="lat,lon"/>`` per vertex (closed when the last repeats the
first); circles and ellipses carry ``<shape><ellipse>`` around the event's point; a range and
bearing line carries ``range`` (metres) and ``bearing`` (degrees true) from its point; point
markers carry a ``<color>``; a route (``b-m-r``) carries one ``<link relation="c" point=…>`` per
waypoint and is read like a free-form line. Anything unreadable is skipped: the result is for
display only.
"""

import math
from typing import NamedTuple

from lxml import etree

from rallypoint.cot.event import Event
from rallypoint.cot.xml import DEFAULT_LIMITS, XmlLimits, detail_tree
from rallypoint.errors import ProtocolError

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius, for the end point of a range and bearing line."""
MAX_SHAPE_POINTS = 2000
"""Vertices read from one event at most (a long telestration is cut, not refused)."""
DEFAULT_STROKE = 0xFFFFFFFF
"""ATAK's default shape colour: white."""
DEFAULT_MARKER = 0xFFFFFF00
"""A point marker without a colour: yellow, as ATAK draws a spot marker by default."""

POINT, LINE, POLYGON, CIRCLE = "point", "line", "polygon", "circle"
ROUTE = "b-m-r"
"""A route: not a drawing (the command post's map of drawings leaves it out), but read as one."""


class Shape(NamedTuple):
    """How to draw one map item; points are ``(lat, lon)``, colours unsigned ARGB."""

    kind: str
    """``point``, ``line``, ``polygon`` or ``circle``."""
    points: tuple[tuple[float, float], ...]
    stroke: int
    fill: int | None = None
    radius_m: float = 0.0
    weight: float | None = None
    labels_on: bool = True


def is_drawing_type(cot_type: str) -> bool:
    """User drawings (``u-d-…``), range and bearing lines (``u-rb-a``) and point markers (``b-m-p…``)."""
    return cot_type.startswith(("u-d-", "b-m-p")) or cot_type == "u-rb-a"


def read_shape(event: Event, limits: XmlLimits = DEFAULT_LIMITS) -> Shape | None:
    """The shape of a drawing event or a route, or None for other events and those that say too
    little; ``limits`` bound the parse of the detail."""
    if not (is_drawing_type(event.type) or event.type == ROUTE) or event.type == "u-d-f-m":
        return None  # a telestration nests its strokes as escaped CoT: not drawn here
    try:
        root = detail_tree(event.detail, limits) if event.detail is not None else etree.Element("detail")
    except ProtocolError:
        return None
    centre = (event.point.lat, event.point.lon)
    stroke = _colour(root, "strokeColor", "value")
    fill = _colour(root, "fillColor", "value")
    weight = _number(root.find("strokeWeight"), "value")
    labels = root.find("labels_on")
    labels_on = labels is None or (labels.get("value") or "").lower() != "false"
    if event.type.startswith("b-m-p"):
        colour = _colour(root, "color", "argb") or _colour(root, "color", "value") or DEFAULT_MARKER
        return Shape(POINT, (centre,), colour)
    style = (stroke if stroke is not None else DEFAULT_STROKE, fill, 0.0, weight, labels_on)
    if event.type == "u-rb-a":
        end = _range_bearing_end(root, centre)
        return None if end is None else Shape(LINE, (centre, end), *style)
    ellipse = root.find("shape/ellipse")
    if event.type.startswith("u-d-c") and ellipse is not None:
        radius = _number(ellipse, "major") or _number(ellipse, "minor")
        if radius is None or radius <= 0:
            return None
        return Shape(CIRCLE, (centre,), style[0], fill, radius, weight, labels_on)
    vertices = _vertices(root)
    if len(vertices) < 2:
        return None
    closed = event.type == "u-d-r" or (len(vertices) >= 4 and vertices[0] == vertices[-1])
    if closed and vertices[0] != vertices[-1]:
        vertices.append(vertices[0])
    return Shape(POLYGON if closed else LINE, tuple(vertices), *style)


def _vertices(root: etree._Element) -> list[tuple[float, float]]:
    vertices: list[tuple[float, float]] = []
    for link in root.iterfind("link"):
        text = link.get("point")
        if text is None or len(vertices) >= MAX_SHAPE_POINTS:
            continue
        parts = text.split(",")
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            continue
        if math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180:
            vertices.append((lat, lon))
    return vertices


def _range_bearing_end(root: etree._Element, start: tuple[float, float]) -> tuple[float, float] | None:
    """Where a range and bearing line ends: ``range`` metres from ``start`` along ``bearing``."""
    distance = _number(root.find("range"), "value")
    bearing = _number(root.find("bearing"), "value")
    if distance is None or bearing is None or distance <= 0:
        return None
    return destination(start, distance, bearing)


def destination(start: tuple[float, float], metres: float, bearing_deg: float) -> tuple[float, float]:
    """The point ``metres`` from ``start`` (lat, lon) on the great circle of ``bearing_deg``."""
    lat1, lon1 = math.radians(start[0]), math.radians(start[1])
    angle, theta = metres / EARTH_RADIUS_M, math.radians(bearing_deg)
    lat2 = math.asin(math.sin(lat1) * math.cos(angle) + math.cos(lat1) * math.sin(angle) * math.cos(theta))
    lon2 = lon1 + math.atan2(
        math.sin(theta) * math.sin(angle) * math.cos(lat1), math.cos(angle) - math.sin(lat1) * math.sin(lat2)
    )
    lon = (math.degrees(lon2) + 540) % 360 - 180
    return math.degrees(lat2), lon


def range_bearing(start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    """Great-circle metres and initial bearing (degrees true, 0-360) from ``start`` to ``end``."""
    lat1, lon1, lat2, lon2 = (math.radians(v) for v in (*start, *end))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    metres = 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return metres, math.degrees(math.atan2(y, x)) % 360


def _colour(root: etree._Element, tag: str, attribute: str) -> int | None:
    """A signed (or unsigned) ARGB integer attribute as unsigned ARGB, or None."""
    element = root.find(tag)
    text = element.get(attribute) if element is not None else None
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value & 0xFFFFFFFF if -(1 << 31) <= value < (1 << 32) else None


def _number(element: etree._Element | None, attribute: str) -> float | None:
    if element is None:
        return None
    try:
        value = float(element.get(attribute) or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None
