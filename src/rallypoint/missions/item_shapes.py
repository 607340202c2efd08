"""What a mission's map items look like on a map: GeoJSON geometry from the CoT kept for each.

A field unit that sends a marker, a route or a drawn shape to a mission (``<marti><dest
mission=…>``) leaves its event in the mission; TAK's UidDetails keep only its type, callsign
and one location, which would draw a rectangle as a dot at its centre. The command post draws
the item as the TAK clients do instead: :func:`rallypoint.cot.shapes.read_shape` reads the
shape from the stored event, and this module turns it into GeoJSON (a circle as a round
polygon, since GeoJSON has none). Pure functions over the stored XML; a stored event that no
longer parses is drawn at its location, and one that is no shape at its point.
"""

from typing import Any

from rallypoint.cot.shapes import CIRCLE, POINT, POLYGON, Shape, destination, read_shape
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError
from rallypoint.missions.model import UidContent

CIRCLE_VERTICES = 48
"""A circle is drawn as a polygon of this many sides: round at any zoom a commander uses."""

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
    point = _location(item.details.get("location"))
    if item.xml is None:
        return None if point is None else {"type": "Point", "coordinates": point}
    try:
        event = parse_event(item.xml.encode("utf-8"), limits)
    except ProtocolError:
        return None if point is None else {"type": "Point", "coordinates": point}
    return geometry(read_shape(event, limits), [event.point.lon, event.point.lat])


def geometry(shape: Shape | None, centre: Position) -> dict[str, Any]:
    """GeoJSON Polygon, LineString or Point of ``shape``; a Point at ``centre`` for no shape."""
    if shape is None or shape.kind == POINT:
        return {"type": "Point", "coordinates": centre}
    if shape.kind == CIRCLE:
        return {"type": "Polygon", "coordinates": [circle(centre, shape.radius_m)]}
    vertices = [[lon, lat] for lat, lon in shape.points]
    if shape.kind == POLYGON:
        return {"type": "Polygon", "coordinates": [vertices]}
    return {"type": "LineString", "coordinates": vertices}


def circle(centre: Position, radius_m: float) -> list[Position]:
    """A closed ring of CIRCLE_VERTICES points ``radius_m`` around ``centre`` (great-circle)."""
    ring: list[Position] = []
    for i in range(CIRCLE_VERTICES):
        lat, lon = destination((centre[1], centre[0]), radius_m, 360 * i / CIRCLE_VERTICES)
        ring.append([round(lon, 7), round(lat, 7)])
    ring.append(ring[0])
    return ring


def _location(location: object) -> Position | None:
    if not isinstance(location, dict):
        return None
    lat, lon = location.get("lat"), location.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    return [float(lon), float(lat)]
