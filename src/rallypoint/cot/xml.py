"""CoT XML codec: bytes of one ``<event>`` to an :class:`Event` and back, safely.

Safety comes before parsing: the size cap is checked first, and any ``<!`` construct other
than a comment or CDATA section (so every DOCTYPE and entity declaration) is refused by a
byte scan. Events are then read in one expat pass (``xmlscan``) with the nesting capped;
conversions that need every detail element use libxml2 with entity resolution, DTD
loading and network access off.
"""

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from rallypoint.cot import hotpath
from rallypoint.cot.detail import CAPTURED_TAGS, build_detail
from rallypoint.cot.event import UNKNOWN_DISTANCE, Detail, DetailElement, Event, Point
from rallypoint.cot.timefmt import format_time, parse_time
from rallypoint.cot.xmlscan import ScanResult
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

XML_WHITESPACE = " \t\n\r"
"""The only insignificant characters; ``str.strip()`` would also drop a no-break space."""

MARKUP_DECLARATION = re.compile(rb"<!(?!--|\[CDATA\[)")
"""A DOCTYPE, ENTITY or other declaration: refused before any parser sees the bytes."""
_EVENT_TAG_TEXT = re.compile(r"</?event", re.IGNORECASE)


def hardened_parser(*, remove_blank_text: bool) -> etree.XMLParser:
    """The one set of parser settings for untrusted XML (CoT, package manifests): no entities,
    no network, no DTD, no huge trees, comments and processing instructions dropped."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=remove_blank_text,
        collect_ids=False,
    )


_PARSER = hardened_parser(remove_blank_text=True)


def parse_event(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> Event:
    """Parse the bytes of one CoT event (an optional XML declaration may precede it)."""
    scan = _scan(data, limits, detail_root=False)
    if scan.root_tag != "event":
        raise InvalidEvent(f"root element is <{scan.root_tag}>, expected <event>")
    if scan.point is None:
        raise InvalidEvent("<event> has no <point>")
    root = scan.root
    numbers = hotpath.event_numbers(root, scan.point)  # None: read here, checked in this order
    time = parse_time(_required(root, "time")) if numbers is None else numbers[0]
    detail = (
        build_detail(frame_safe_detail(scan.detail_text(data), limits), scan.nodes)
        if scan.detail_found
        else None
    )
    uid, kind = _required(root, "uid"), _required(root, "type")
    if numbers is None:
        numbers = _numbers(root, scan.point, time)
    return Event(
        uid=uid,
        type=kind,
        how=root.get("how") or "",
        time=time,
        start=numbers[1],
        stale=numbers[2],
        point=Point(numbers[3], numbers[4], numbers[5], numbers[6], numbers[7]),
        detail=detail,
        access=root.get("access"),
        qos=root.get("qos"),
        opex=root.get("opex"),
        caveat=root.get("caveat"),
        releasable_to=root.get("releasableTo"),
        version=root.get("version") or "2.0",
    )


def parse_detail(xml_text: str, limits: XmlLimits = DEFAULT_LIMITS) -> Detail:
    """Parse detail children given as text without their ``<detail>`` wrapper."""
    data = b"<detail>" + xml_text.encode("utf-8") + b"</detail>"
    scan = _scan(data, limits, detail_root=True)
    return build_detail(frame_safe_detail(scan.detail_text(data), limits), scan.nodes)


def frame_safe_detail(xml_text: str, limits: XmlLimits = DEFAULT_LIMITS) -> str:
    """Detail children that no stream splitter can cut into a second event.

    Well-formed XML may quote ``</event><event uid="VICTIM">`` in text, CDATA, a comment or
    a processing instruction; a receiver splitting on ``</event>`` would read a second event
    there. Such detail is re-serialised: CDATA becomes escaped text, comments and
    processing instructions go. An ``<event>`` element inside ``<detail>`` cannot be made
    safe and is refused. Detail without the text ``<event`` or ``</event`` is returned as is.
    """
    if not _EVENT_TAG_TEXT.search(xml_text):
        return xml_text
    root = _parse_tree(b"<detail>" + xml_text.encode("utf-8") + b"</detail>", limits)
    for element in root.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname.lower() == "event":
            raise InvalidEvent("<detail> holds an <event> element")
    return "".join(
        etree.tostring(child, encoding="unicode", with_tail=False)
        for child in root
        if isinstance(child.tag, str)
    )


def is_frame_safe(data: bytes) -> bool:
    """The bytes of one XML event hold no event tag but its own, so they may be forwarded as they are."""
    return hotpath.event_tags(data) <= 2


def quotes_event_tag(payload: bytes) -> bool:
    """A protobuf payload holds the text ``<event`` or ``</event`` (so its detail was re-serialised)."""
    return hotpath.event_tags(payload) > 0


def check_detail(xml_text: str, limits: XmlLimits = DEFAULT_LIMITS) -> None:
    """Check detail children given as text (size, no DTD, depth, well-formed) without reading them."""
    data = b"<detail>" + xml_text.encode("utf-8") + b"</detail>"
    if data.count(b"<") > limits.max_depth:  # only then can it nest too deep: do the full scan
        _scan(data, limits, detail_root=True)
        return
    _check(data, limits)
    hotpath.check_well_formed(data)


def _check(data: bytes, limits: XmlLimits) -> None:
    """The checks made before any parser sees the bytes."""
    if len(data) > limits.max_event_bytes:
        raise FrameTooLarge(f"event of {len(data)} bytes exceeds the cap of {limits.max_event_bytes}")
    if MARKUP_DECLARATION.search(data):
        raise ForbiddenXml("DOCTYPE and entity declarations are not accepted")


def _scan(data: bytes, limits: XmlLimits, *, detail_root: bool) -> ScanResult:
    _check(data, limits)
    return hotpath.scan(data, detail_root=detail_root, max_depth=limits.max_depth, capture=CAPTURED_TAGS)


def detail_tree(detail: Detail, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """The detail as a full lxml ``<detail>`` element, for conversions that need every child."""
    return _parse_tree(b"<detail>" + detail.xml.encode("utf-8") + b"</detail>", limits)


def _parse_tree(data: bytes, limits: XmlLimits) -> etree._Element:
    """A full lxml tree, for conversions that need every element (not the hot path)."""
    _check(data, limits)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MalformedXml(f"not well-formed XML: {exc}") from exc
    return root


def _required(attributes: dict[str, str], name: str) -> str:
    value = attributes.get(name)
    if not value:
        raise InvalidEvent(f"<event> lacks the required attribute {name!r}")
    return value


def _numbers(root: dict[str, str], point: dict[str, str], time: int) -> hotpath.EventNumbers:
    """What :func:`hotpath.event_numbers` gives, read from any form Python reads (or refused)."""
    time_text = root["time"]
    start_text = root.get("start") or time_text
    start = time if start_text == time_text else parse_time(start_text)
    return (time, start, parse_time(_required(root, "stale")), *_point(point))


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


def _point(attributes: dict[str, str]) -> Point:
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
    root = detail_tree(detail, limits)
    return tuple(
        DetailElement(
            tag=child.tag,
            xml=etree.tostring(child, encoding="unicode", with_tail=False),
            attributes=tuple(child.attrib.items()),  # type: ignore[arg-type]
            simple=len(child) == 0 and not (child.text and child.text.strip(XML_WHITESPACE)),
        )
        for child in root
        if isinstance(child.tag, str)
    )


_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


def escape_attribute(value: str) -> str:
    """Escape text for use inside a double-quoted XML attribute."""
    return value.translate(_ESCAPES)


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
        parts.append(f"<detail>{frame_safe_detail(event.detail.xml)}</detail>")
    parts.append("</event>")
    return "".join(parts).encode("utf-8")
