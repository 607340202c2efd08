"""CoT XML codec: bytes of one ``<event>`` to an :class:`Event` and back, safely.

Safety comes before parsing: the size cap is checked first, any ``<!`` construct other than
a comment or CDATA section (so every DOCTYPE and entity declaration) is refused by a byte
scan, and libxml2 then runs with entity resolution, DTD loading and network access off.
Nesting deeper than the configured cap is refused after the parse.
"""

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from rallypoint.cot.event import (
    UNKNOWN_DISTANCE,
    Chat,
    Contact,
    Dest,
    Detail,
    DetailElement,
    Emergency,
    Event,
    Group,
    Link,
    Point,
    TakControl,
)
from rallypoint.cot.timefmt import format_time, parse_time
from rallypoint.errors import ForbiddenXml, FrameTooLarge, InvalidEvent, MalformedXml

DEFAULT_MAX_EVENT_BYTES = 64 * 1024
"""Real events are under 8 KiB (a long route is ~5 KiB); 64 KiB leaves room for drawings."""

DEFAULT_MAX_DEPTH = 32
"""Real events nest at most 5 deep (event/detail/__chat/chatgrp); 32 refuses nesting bombs."""


@dataclass(frozen=True, slots=True)
class XmlLimits:
    """Caps applied to every XML event before and after parsing."""

    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH


DEFAULT_LIMITS = XmlLimits()

_MARKUP_DECLARATION = re.compile(rb"<!(?!--|\[CDATA\[)")
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    remove_blank_text=True,
    collect_ids=False,
)
_ROUTING_DEST_KEYS = ("callsign", "uid", "mission", "mission-guid", "group")


def parse_event(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> Event:
    """Parse the bytes of one CoT event (an optional XML declaration may precede it)."""
    root = _parse_root(data, limits)
    if root.tag != "event":
        raise InvalidEvent(f"root element is <{_tag_text(root.tag)}>, expected <event>")
    return _event_from_element(root)


def parse_detail(xml_text: str, limits: XmlLimits = DEFAULT_LIMITS) -> Detail:
    """Parse detail children given as text without their ``<detail>`` wrapper."""
    data = b"<detail>" + xml_text.encode("utf-8") + b"</detail>"
    return _detail_from_element(_parse_root(data, limits))


def _parse_root(data: bytes, limits: XmlLimits) -> etree._Element:
    if len(data) > limits.max_event_bytes:
        raise FrameTooLarge(f"event of {len(data)} bytes exceeds the cap of {limits.max_event_bytes}")
    if _MARKUP_DECLARATION.search(data):
        raise ForbiddenXml("DOCTYPE and entity declarations are not accepted")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MalformedXml(f"not well-formed XML: {exc}") from exc
    if data.count(b"<") > limits.max_depth and _deeper_than(root, limits.max_depth):
        raise MalformedXml(f"XML nests deeper than {limits.max_depth} levels")
    return root


def _deeper_than(root: etree._Element, limit: int) -> bool:
    """Depth check that costs nothing for the common small event."""
    for element in root.iter():
        if len(element) == 0 and sum(1 for _ in element.iterancestors()) >= limit:
            return True
    return False


def _tag_text(tag: object) -> str:
    return tag if isinstance(tag, str) else "?"


def _required(element: etree._Element, name: str) -> str:
    value = element.get(name)
    if value is None or value == "":
        raise InvalidEvent(f"<{_tag_text(element.tag)}> lacks the required attribute {name!r}")
    return value


def _event_from_element(root: etree._Element) -> Event:
    point_element = detail_element = None
    for child in root:  # one pass: lxml's find() costs more than the whole loop
        if child.tag == "point":
            point_element = child
        elif child.tag == "detail":
            detail_element = child
    if point_element is None:
        raise InvalidEvent("<event> has no <point>")
    return Event(
        uid=_required(root, "uid"),
        type=_required(root, "type"),
        how=root.get("how") or "",
        time=parse_time(_required(root, "time")),
        start=parse_time(root.get("start") or _required(root, "time")),
        stale=parse_time(_required(root, "stale")),
        point=_point_from_element(point_element),
        detail=None if detail_element is None else _detail_from_element(detail_element),
        access=root.get("access"),
        qos=root.get("qos"),
        opex=root.get("opex"),
        caveat=root.get("caveat"),
        releasable_to=root.get("releasableTo"),
        version=root.get("version") or "2.0",
    )


def _float(attributes: dict[str, str], name: str, default: float) -> float:
    text = attributes.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError as exc:
        raise InvalidEvent(f"point attribute {name}={text[:32]!r} is not a number") from exc
    if not math.isfinite(value):
        raise InvalidEvent(f"point attribute {name} is not finite")
    return value


def _point_from_element(element: etree._Element) -> Point:
    attributes: dict[str, str] = dict(element.items())  # type: ignore[arg-type]
    point = Point(
        lat=_float(attributes, "lat", 0.0),
        lon=_float(attributes, "lon", 0.0),
        hae=_float(attributes, "hae", UNKNOWN_DISTANCE),
        ce=_float(attributes, "ce", UNKNOWN_DISTANCE),
        le=_float(attributes, "le", UNKNOWN_DISTANCE),
    )
    if not (-90.0 <= point.lat <= 90.0 and -180.0 <= point.lon <= 180.0):
        raise InvalidEvent(f"point {point.lat},{point.lon} is outside WGS-84 bounds")
    return point


def _detail_from_element(detail: etree._Element) -> Detail:
    fields: dict[str, object] = {}
    for child in detail:
        reader = _DETAIL_READERS.get(child.tag)
        if reader is not None:
            reader(child, fields)
    return Detail(xml=_inner_xml(detail), **fields)  # type: ignore[arg-type]


def _inner_xml(detail: etree._Element) -> str:
    """The children of ``detail`` as text: one C-level serialisation, then the wrapper cut off."""
    if len(detail) == 0 and not (detail.text and detail.text.strip()):
        return ""
    if not detail.attrib and detail.tag == "detail":
        whole = etree.tostring(detail, encoding="unicode")
        if whole.startswith("<detail>") and whole.endswith("</detail>"):
            return whole[len("<detail>") : -len("</detail>")]
    text = escape_text(detail.text or "")
    return text + "".join(etree.tostring(child, encoding="unicode") for child in detail)


def without_marti(event: Event) -> Event:
    """The event without its ``<marti>`` routing instructions (the server consumes them)."""
    if event.detail is None or not event.detail.has_marti:
        return event
    xml = "".join(element.xml for element in detail_elements(event.detail) if element.tag != "marti")
    return event._replace(detail=event.detail._replace(xml=xml, has_marti=False, dests=()))


def detail_elements(detail: Detail, limits: XmlLimits = DEFAULT_LIMITS) -> tuple[DetailElement, ...]:
    """Split a detail's XML into one :class:`DetailElement` per child element."""
    if not detail.xml:
        return ()
    root = _parse_root(b"<detail>" + detail.xml.encode("utf-8") + b"</detail>", limits)
    return tuple(
        DetailElement(
            tag=child.tag,
            xml=etree.tostring(child, encoding="unicode", with_tail=False),
            attributes=tuple(child.attrib.items()),  # type: ignore[arg-type]
            simple=len(child) == 0 and not (child.text and child.text.strip()),
        )
        for child in root
        if isinstance(child.tag, str)
    )


def _read_contact(element: etree._Element, fields: dict[str, object]) -> None:
    fields.setdefault("contact", Contact(element.get("callsign"), element.get("endpoint")))


def _read_group(element: etree._Element, fields: dict[str, object]) -> None:
    name = element.get("name")
    if name is not None:
        fields.setdefault("group", Group(name, element.get("role") or ""))


def _read_marti(element: etree._Element, fields: dict[str, object]) -> None:
    fields["has_marti"] = True
    dests = list(fields.get("dests", ()))  # type: ignore[call-overload]
    for dest in element.iterchildren("dest"):
        values = [dest.get(key) for key in _ROUTING_DEST_KEYS]
        if any(values):
            dests.append(Dest(*values))
    fields["dests"] = tuple(dests)


def _read_chat(element: etree._Element, fields: dict[str, object]) -> None:
    chatgrp = element.find("chatgrp")
    participants: tuple[str, ...] = ()
    if chatgrp is not None:
        participants = tuple(
            chatgrp.get(f"uid{index}") or ""
            for index in range(len(chatgrp.attrib))
            if chatgrp.get(f"uid{index}")
        )
    fields.setdefault(
        "chat",
        Chat(
            chatroom=element.get("chatroom") or "",
            chat_id=element.get("id") or "",
            parent=element.get("parent"),
            sender_callsign=element.get("senderCallsign"),
            participants=participants,
        ),
    )


def _read_emergency(element: etree._Element, fields: dict[str, object]) -> None:
    fields.setdefault(
        "emergency",
        Emergency(
            type=element.get("type"),
            cancel=(element.get("cancel") or "").lower() == "true",
            callsign=(element.text or "").strip(),
        ),
    )


def _read_link(element: etree._Element, fields: dict[str, object]) -> None:
    uid = element.get("uid")
    if uid:
        links = fields.get("links", ())
        fields["links"] = (*links, Link(uid, element.get("type"), element.get("relation")))  # type: ignore[misc]


def _read_force_delete(_element: etree._Element, fields: dict[str, object]) -> None:
    fields["force_delete"] = True


def _read_control(element: etree._Element, fields: dict[str, object]) -> None:
    request = element.find("TakRequest")
    response = element.find("TakResponse")
    fields["control"] = TakControl(
        supported_versions=tuple(
            support.get("version") or "" for support in element.iterchildren("TakProtocolSupport")
        ),
        requested_version=None if request is None else request.get("version"),
        response_status=None if response is None else (response.get("status") or "").lower() == "true",
    )


_DETAIL_READERS = {
    "contact": _read_contact,
    "__group": _read_group,
    "marti": _read_marti,
    "__chat": _read_chat,
    "__chatreceipt": _read_chat,
    "emergency": _read_emergency,
    "link": _read_link,
    "__forcedelete": _read_force_delete,
    "TakControl": _read_control,
}

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


def escape_attribute(value: str) -> str:
    """Escape text for use inside a double-quoted XML attribute."""
    return value.translate(_ESCAPES)


def escape_text(value: str) -> str:
    """Escape character data for use between tags."""
    return value.translate(_TEXT_ESCAPES)


def format_number(value: float) -> str:
    """Write a float in plain decimal notation (CoT readers expect no exponent), losslessly."""
    text = repr(float(value))
    if "e" in text:
        text = format(Decimal(text), "f")  # exact: the same shortest digits, positional
        if "." not in text:
            text += ".0"
    return text


def serialize_event(event: Event, *, strip_marti: bool = False) -> bytes:
    """Serialise an event as compact CoT XML (no declaration), optionally without ``<marti>``."""
    optional = (
        ("access", event.access),
        ("qos", event.qos),
        ("opex", event.opex),
        ("caveat", event.caveat),
        ("releasableTo", event.releasable_to),
    )
    extra = "".join(f' {name}="{escape_attribute(value)}"' for name, value in optional if value is not None)
    if strip_marti:
        event = without_marti(event)
    point = event.point
    parts = [
        f'<event version="{escape_attribute(event.version)}" uid="{escape_attribute(event.uid)}"'
        f' type="{escape_attribute(event.type)}" how="{escape_attribute(event.how)}"'
        f' time="{format_time(event.time)}" start="{format_time(event.start)}"'
        f' stale="{format_time(event.stale)}"{extra}>'
        f'<point lat="{format_number(point.lat)}" lon="{format_number(point.lon)}"'
        f' hae="{format_number(point.hae)}" ce="{format_number(point.ce)}" le="{format_number(point.le)}"/>'
    ]
    if event.detail is not None:
        parts.append(f"<detail>{event.detail.xml}</detail>")
    parts.append("</event>")
    return "".join(parts).encode("utf-8")
