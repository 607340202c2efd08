"""Contacts for the web command post: CoT events as the JSON the browser map draws.

A contact is one uid's latest position report or map item, flattened to the few fields the
page shows (callsign, position, heading, team, battery, remarks) plus what it needs to pick a
symbol: the affiliation and a 15-character MIL-STD-2525C SIDC derived from the CoT type
(``a-f-G-U-C`` → ``SFGPUC---------``). The detail children the router does not read
(``track``, ``status``, ``remarks``, ``__fusion``) are parsed here, off the routing path, only
when a browser is watching.
"""

import math
from typing import Any

from lxml import etree

from rallypoint.cot import types
from rallypoint.cot.event import UNKNOWN_THRESHOLD, Event
from rallypoint.cot.shapes import is_drawing_type, read_shape
from rallypoint.cot.timefmt import parse_time
from rallypoint.cot.xml import detail_tree
from rallypoint.errors import ProtocolError
from rallypoint.router.cache import SituationCache

Contact = dict[str, Any]
"""The contract's Contact JSON object (see the web specification)."""

AFFILIATIONS = frozenset("fhnuaspox")
"""Second atoms of ``a-`` CoT types that name an affiliation (2525 standard identities)."""
_SIDC_AFFILIATION = {"o": "U", "x": "U"}
"""CoT "none" and "other" have no 2525C letter of their own: drawn as unknown."""
_SIDC_DIMENSIONS = frozenset("PAGSUFX")
SIDC_LENGTH = 15
SIDC_FUNCTION_LENGTH = 6
MAX_REMARKS_CHARS = 2000
"""Remarks longer than this are cut: a page lists hundreds of contacts."""
MAX_FUSION_SOURCES = 32
"""Sources listed per fused track; a track seen by more is summarised by its first ones."""
_TIME_ATTRIBUTES = ("last_report", "last_report_ms", "lastReport", "time")
PARENT_RELATION = "p-p"
"""The link relation by which an alert names the device that raised it."""
ALERT_CALLSIGN_SUFFIX = "-Alert"
"""ATAK names the alert's contact after the device plus this."""


def affiliation(cot_type: str) -> str | None:
    """The affiliation letter of an ``a-`` type (``a-h-G`` → ``h``), else None."""
    atoms = cot_type.split("-")
    if len(atoms) >= 2 and atoms[0] == "a" and atoms[1] in AFFILIATIONS:
        return atoms[1]
    return None


def sidc(cot_type: str) -> str | None:
    """The MIL-STD-2525C symbol code of an ``a-`` type, or None for other kinds of items.

    Scheme ``S`` (warfighting), the affiliation, the battle dimension, status ``P`` (present),
    then the CoT function atoms as the six-letter function id, padded with ``-``.
    """
    letter = affiliation(cot_type)
    atoms = cot_type.split("-")
    if letter is None or len(atoms) < 3 or atoms[2][:1].upper() not in _SIDC_DIMENSIONS:
        return None
    dimension = atoms[2][:1].upper()
    if dimension == "X":
        dimension = "Z"  # CoT "other" dimension: 2525C "unknown"
    function = "".join(atom[:1].upper() for atom in atoms[3:])[:SIDC_FUNCTION_LENGTH]
    code = "S" + _SIDC_AFFILIATION.get(letter, letter.upper()) + dimension + "P" + function
    return code.ljust(SIDC_LENGTH, "-")


def is_contact_type(cot_type: str) -> bool:
    """Positions and map items the page draws (alerts are shown as alerts, not contacts)."""
    return types.is_cacheable(cot_type) and not types.is_emergency(cot_type)


def contact_json(event: Event) -> Contact:
    """The contract's Contact for one event."""
    point = event.point
    extra = _DetailExtras.read(event)
    group = event.detail.group if event.detail else None
    return {
        "uid": event.uid,
        "type": event.type,
        "how": event.how,
        "callsign": event.callsign or extra.title or event.uid,
        "lat": point.lat,
        "lon": point.lon,
        "hae": _known(point.hae),
        "ce": _known(point.ce),
        "course": extra.course,
        "speed": extra.speed,
        "time": event.time,
        "stale": event.stale,
        "team": group.name if group else None,
        "role": group.role if group and group.role else None,
        "battery": extra.battery,
        "remarks": extra.remarks,
        "affiliation": affiliation(event.type),
        "sidc": sidc(event.type),
        "provenance": extra.provenance,
        "shape": shape_json(event) if extra.title is None else None,
    }


def shape_json(event: Event) -> dict[str, Any] | None:
    """How the map draws a marker or shape (None for units, and for mission objectives, which
    the map draws from the missions feed): ``kind`` (``point``, ``line``, ``polygon``,
    ``circle``), ``coordinates`` as ``[lon, lat]`` pairs, ``radius`` in metres, CSS colours."""
    shape = read_shape(event) if is_drawing_type(event.type) else None
    if shape is None:
        return None
    return {
        "kind": shape.kind,
        "coordinates": [[lon, lat] for lat, lon in shape.points],
        "radius": shape.radius_m or None,
        "stroke": css_colour(shape.stroke),
        "fill": css_colour(shape.fill) if shape.fill is not None else None,
        "colour": f"#{shape.stroke & 0xFFFFFF:06x}",
        "weight": shape.weight,
        "labels": shape.labels_on,
    }


def css_colour(argb: int) -> str:
    """``rgba(r,g,b,a)`` of an unsigned ARGB value."""
    alpha = round(((argb >> 24) & 0xFF) / 255, 3)
    return f"rgba({(argb >> 16) & 0xFF},{(argb >> 8) & 0xFF},{argb & 0xFF},{alpha})"


def visible_contacts(cache: SituationCache, groups: frozenset[str], now_ms: int) -> list[Contact]:
    """Every non-stale cached contact a member of ``groups`` may see."""
    return [
        contact_json(message.event)
        for message in cache.visible_to(groups, now_ms)
        if is_contact_type(message.event.type)
    ]


def _known(value: float) -> float | None:
    return None if value >= UNKNOWN_THRESHOLD else value


class _DetailExtras:
    """The detail children only the page cares about, read from one lxml parse."""

    __slots__ = ("battery", "course", "provenance", "remarks", "speed", "title")

    def __init__(self) -> None:
        self.course: float | None = None
        self.speed: float | None = None
        self.battery: float | None = None
        self.remarks: str | None = None
        self.title: str | None = None
        self.provenance: dict[str, Any] | None = None

    @classmethod
    def read(cls, event: Event) -> "_DetailExtras":
        extras = cls()
        if event.detail is None or not event.detail.xml:
            return extras
        try:
            root = detail_tree(event.detail)
        except ProtocolError:
            return extras  # the router accepted it; a detail we cannot re-read shows no extras
        for child in root:
            extras._take(child)
        return extras

    def _take(self, element: etree._Element) -> None:
        tag = element.tag
        if tag == "track":
            self.course = _number(element.get("course"))
            self.speed = _number(element.get("speed"))
        elif tag == "status":
            self.battery = _number(element.get("battery"))
        elif tag == "remarks":
            text = (element.text or "").strip()
            self.remarks = text[:MAX_REMARKS_CHARS] or None
        elif tag == "__objective":
            self.title = element.get("title")
        elif tag == "__fusion":
            self.provenance = {"sources": _fusion_sources(element)}


def _fusion_sources(element: etree._Element) -> list[dict[str, Any]]:
    """``<__fusion>``'s children that name a source: name, kind and last report time."""
    sources: list[dict[str, Any]] = []
    for child in element:
        name = child.get("name") or child.get("source")
        if name is None or len(sources) >= MAX_FUSION_SOURCES:
            continue
        sources.append({"name": name, "kind": child.get("kind"), "last_report": _fusion_time(child)})
    return sources


def _fusion_time(element: etree._Element) -> int | None:
    for attribute in _TIME_ATTRIBUTES:
        value = element.get(attribute)
        if value is None:
            continue
        if value.isdigit():
            return int(value)
        try:
            return parse_time(value)
        except ProtocolError:
            return None
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) < UNKNOWN_THRESHOLD else None


def alert_json(event: Event, *, active: bool = True, acknowledged: bool = False) -> dict[str, Any]:
    """An emergency as the page's banner shows it."""
    emergency = event.detail.emergency if event.detail else None
    callsign = emergency.callsign if emergency and emergency.callsign else (event.callsign or event.uid)
    return {
        "uid": event.uid,
        "callsign": callsign.removesuffix(ALERT_CALLSIGN_SUFFIX),
        "kind": emergency.type if emergency and emergency.type else event.type,
        "lat": event.point.lat,
        "lon": event.point.lon,
        "time": event.time,
        "active": active,
        "acknowledged": acknowledged,
        "device": emergency_device(event),
    }


def emergency_device(event: Event) -> str | None:
    """The device that raised an emergency: the one its ``p-p`` link names (as ATAK sends it)."""
    for link in event.detail.links if event.detail else ():
        if link.relation == PARENT_RELATION:
            return link.uid
    return None
