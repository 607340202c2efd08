"""What a mission's map items look like on a map: GeoJSON geometry from the CoT kept for each.

A field unit that sends a marker, a route or a drawn shape to a mission (``<marti><dest
mission=…>``) leaves its event in the mission; TAK's UidDetails keep only its type, callsign
and one location, which would draw a rectangle as a dot at its centre. The command post draws
the item as the TAK clients do instead: shape vertices (bare ``<link point="lat,lon"/>``),
route waypoints (``<link relation="c" point=…>``) and circles (``<shape><ellipse major=…>``,
the semi-major axis in metres taken as the radius). Pure functions over the stored XML; a
stored event that no longer parses is drawn at its location.
"""

import math
from typing import Any

from lxml import etree

from rallypoint.cot.xml import XmlLimits, detail_tree, parse_event
from rallypoint.errors import ProtocolError
from rallypoint.missions.model import UidContent

CIRCLE_VERTICES = 48
"""A circle is drawn as a polygon of this many sides: round at any zoom a commander uses."""
EARTH_RADIUS_M = 6_371_008.8
MAX_VERTICES = 2_000
"""Beyond this a drawing is cut: the page draws a shape, not a survey."""

Position = list[float]
"""[lon, lat], GeoJSON's order."""


def item_json(item: UidContent, limits: XmlLimits) -> dict[str, Any]:
    """One map item of a mission for the command post: uid, type, callsign, who added it,
    when, and its geometry (null for an item the server never saw a location of)."""
    details = item.details
    return {
        "uid": item.uid,
        "type": details.get("type"),
        "callsign": details.get("callsign"),
        "creatorUid": item.creator,
        "time": item.time,
        "geometry": item_geometry(item, limits),
    }


def item_geometry(item: UidContent, limits: XmlLimits) -> dict[str, Any] | None:
    """The item's shape from its stored event, or the point of its UidDetails."""
    location = item.details.get("location")
    point = _location(location)
    if item.xml is None:
        return None if point is None else {"type": "Point", "coordinates": point}
    try:
        event = parse_event(item.xml.encode("utf-8"), limits)
        tree = detail_tree(event.detail, limits) if event.detail is not None else None
    except ProtocolError:
        return None if point is None else {"type": "Point", "coordinates": point}
    centre = [event.point.lon, event.point.lat]
    if tree is None:
        return {"type": "Point", "coordinates": centre}
    return shape_geometry(event.type, tree, centre)


def shape_geometry(cot_type: str, detail: etree._Element, centre: Position) -> dict[str, Any]:
    """Polygon, LineString or Point for an event of ``cot_type`` with this ``<detail>``."""
    ellipse = detail.find("shape/ellipse")
    if ellipse is not None:
        radius = _number(ellipse.get("major"))
        if radius is not None and radius > 0:
            return {"type": "Polygon", "coordinates": [circle(centre, radius)]}
    vertices = [p for p in (_link_point(link) for link in detail.iterfind("link")) if p is not None]
    vertices = vertices[:MAX_VERTICES]
    if len(vertices) < 2:
        return {"type": "Point", "coordinates": centre}
    closed = cot_type.startswith("u-d-r") or (len(vertices) > 3 and vertices[0] == vertices[-1])
    if closed:
        ring = vertices if vertices[0] == vertices[-1] else [*vertices, vertices[0]]
        return {"type": "Polygon", "coordinates": [ring]}
    return {"type": "LineString", "coordinates": vertices}


def circle(centre: Position, radius_m: float) -> list[Position]:
    """A closed ring of CIRCLE_VERTICES points ``radius_m`` around ``centre`` (great-circle)."""
    lon0, lat0 = math.radians(centre[0]), math.radians(centre[1])
    d = radius_m / EARTH_RADIUS_M
    ring: list[Position] = []
    for i in range(CIRCLE_VERTICES):
        bearing = 2 * math.pi * i / CIRCLE_VERTICES
        lat = math.asin(math.sin(lat0) * math.cos(d) + math.cos(lat0) * math.sin(d) * math.cos(bearing))
        lon = lon0 + math.atan2(
            math.sin(bearing) * math.sin(d) * math.cos(lat0), math.cos(d) - math.sin(lat0) * math.sin(lat)
        )
        ring.append([round(math.degrees(lon), 7), round(math.degrees(lat), 7)])
    ring.append(ring[0])
    return ring


def _link_point(link: etree._Element) -> Position | None:
    """A vertex (``point="lat,lon[,hae]"``) of a shape or route link; none for other links."""
    text = link.get("point")
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) < 2:
        return None
    lat, lon = _number(parts[0]), _number(parts[1])
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return [lon, lat]


def _location(location: object) -> Position | None:
    if not isinstance(location, dict):
        return None
    lat, lon = location.get("lat"), location.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    return [float(lon), float(lat)]


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
