"""The after-action timeline, built from stored events, and its GeoJSON and KML exports.

Sans-I/O: the routes (:mod:`~rallypoint.http.command_post.replay`) query the store and the
mission journal and hand the results here. The timeline keeps what a debrief walks through:
positions (for the map at any moment), chat, objective changes and alerts, each with its
time in milliseconds. The exports carry the same content: one track per unit (GeoJSON
LineString with its times; KML LineString with a TimeSpan), and timestamped points for
alerts and objectives, chat and roll call changes as features without geometry.
"""

from collections import defaultdict
from typing import Any
from xml.sax.saxutils import escape

from rallypoint.cot import types
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError
from rallypoint.http.command_post.chat import chat_json
from rallypoint.http.command_post.contacts import alert_json
from rallypoint.http.common.query import time_text
from rallypoint.router.alerts import is_cancel
from rallypoint.store.base import StoredEvent

POSITION_PREFIX = "a-"
ALERT_PREFIX = "b-a-"
"""Emergencies and their cancellations (``b-a-o-tbl`` … ``b-a-o-can``)."""
KML_NAMESPACE = "http://www.opengis.net/kml/2.2"


def timeline(
    events: list[StoredEvent],
    objectives: list[dict[str, Any]],
    start: int,
    end: int,
    limits: XmlLimits,
    *,
    truncated: bool = False,
) -> dict[str, Any]:
    """The window's positions, chat, objective changes and alerts, each in time order."""
    positions: list[dict[str, Any]] = []
    chat: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    callsigns: dict[str, str] = {}
    for stored in events:
        if stored.type.startswith(POSITION_PREFIX):
            if stored.uid not in callsigns:  # parsed once per unit: a window holds thousands
                callsigns[stored.uid] = _callsign(stored, limits)
            positions.append(_position(stored, callsigns[stored.uid]))
        elif (
            types.is_chat(stored.type)
            or types.is_emergency(stored.type)
            or stored.type == types.EMERGENCY_CANCEL
        ):
            try:
                event = parse_event(stored.xml, limits)
            except ProtocolError:
                continue
            message = chat_json(event)
            if message is not None:
                chat.append(dict(message))
            elif types.is_emergency(event.type) or is_cancel(event):
                alerts.append(alert_json(event, active=not is_cancel(event)))
    return {
        "start": start,
        "end": end,
        "truncated": truncated,
        "positions": positions,
        "chat": chat,
        "objectives": objectives,
        "alerts": alerts,
    }


def _callsign(stored: StoredEvent, limits: XmlLimits) -> str:
    try:
        return parse_event(stored.xml, limits).callsign or stored.uid
    except ProtocolError:
        return stored.uid  # the position stands without its callsign


def _position(stored: StoredEvent, callsign: str) -> dict[str, Any]:
    return {
        "uid": stored.uid,
        "callsign": callsign,
        "type": stored.type,
        "time": stored.time,
        "lat": stored.lat,
        "lon": stored.lon,
    }


def tracks(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Positions by unit uid, in time order."""
    by_uid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for position in data["positions"]:
        by_uid[position["uid"]].append(position)
    return dict(by_uid)


def geojson(data: dict[str, Any]) -> dict[str, Any]:
    """The timeline as a GeoJSON FeatureCollection (see the module docstring)."""
    features: list[dict[str, Any]] = []
    for uid, points in tracks(data).items():
        coordinates = [[p["lon"], p["lat"]] for p in points]
        geometry = (
            {"type": "LineString", "coordinates": coordinates}
            if len(coordinates) > 1
            else {"type": "Point", "coordinates": coordinates[0]}
        )
        properties = {
            "kind": "track",
            "uid": uid,
            "callsign": points[-1]["callsign"],
            "times": [time_text(p["time"]) for p in points],
        }
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    for kind, items in (("alert", data["alerts"]), ("objective", data["objectives"])):
        for item in items:
            geometry = {"type": "Point", "coordinates": [item["lon"], item["lat"]]}
            properties = {**item, "kind": kind, "time": time_text(item["time"])}
            if kind == "alert":
                properties["alertType"] = item["kind"]  # the emergency's own kind, e.g. 911 Alert
            features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    for kind, items in (("chat", data["chat"]), ("rollcall", data.get("rollcalls", []))):
        for item in items:
            properties = {**item, "kind": kind, "time": time_text(item["time"])}
            features.append({"type": "Feature", "geometry": None, "properties": properties})
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {"start": time_text(data["start"]), "end": time_text(data["end"])},
    }


def kml(data: dict[str, Any]) -> str:
    """The timeline as a KML 2.2 document: folders of tracks, alerts, objectives and chat."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<kml xmlns="{KML_NAMESPACE}"><Document>',
        f"<name>Rallypoint replay {_x(time_text(data['start']))} to {_x(time_text(data['end']))}</name>",
        "<Folder><name>Tracks</name>",
    ]
    for uid, points in tracks(data).items():
        coordinates = " ".join(f"{p['lon']},{p['lat']}" for p in points)
        shape = (
            f"<LineString><coordinates>{coordinates}</coordinates></LineString>"
            if len(points) > 1
            else f"<Point><coordinates>{coordinates}</coordinates></Point>"
        )
        parts.append(
            f"<Placemark><name>{_x(points[-1]['callsign'])}</name><description>{_x(uid)}</description>"
            f"<TimeSpan><begin>{time_text(points[0]['time'])}</begin><end>{time_text(points[-1]['time'])}</end>"
            f"</TimeSpan>{shape}</Placemark>"
        )
    parts.append("</Folder><Folder><name>Alerts</name>")
    for alert in data["alerts"]:
        name = f"{alert['kind']} {alert['callsign']}" + ("" if alert["active"] else " (cancelled)")
        parts.append(_point(name, "", alert))
    parts.append("</Folder><Folder><name>Objectives</name>")
    for objective in data["objectives"]:
        name = f"{objective['shortId']} {objective['title']}: {objective['state']}"
        parts.append(_point(name, f"{objective['mission']}, by {objective['author'] or ''}", objective))
    parts.append("</Folder><Folder><name>Chat</name>")
    for message in data["chat"]:
        parts.append(
            f"<Placemark><name>{_x(message['from_callsign'])} to {_x(message['to'])}</name>"
            f"<description>{_x(message['text'])}</description>"
            f"<TimeStamp><when>{time_text(message['time'])}</when></TimeStamp></Placemark>"
        )
    parts.append("</Folder><Folder><name>Roll calls</name>")
    for change in data.get("rollcalls", []):
        parts.append(
            f"<Placemark><name>{_x(change['code'])}</name><description>{_x(change['text'])}</description>"
            f"<TimeStamp><when>{time_text(change['time'])}</when></TimeStamp></Placemark>"
        )
    parts.append("</Folder></Document></kml>")
    return "".join(parts)


def _point(name: str, description: str, item: dict[str, Any]) -> str:
    return (
        f"<Placemark><name>{_x(name)}</name><description>{_x(description)}</description>"
        f"<TimeStamp><when>{time_text(item['time'])}</when></TimeStamp>"
        f"<Point><coordinates>{item['lon']},{item['lat']}</coordinates></Point></Placemark>"
    )


def _x(text: object) -> str:
    return escape(str(text))


__all__ = ["geojson", "kml", "timeline"]
