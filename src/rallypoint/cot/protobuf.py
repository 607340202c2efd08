"""TAK protocol v1 payloads (``TakMessage`` protobuf) to :class:`Event` and back.

The conversion follows the rules of reference §2.5 so that XML -> protobuf -> XML keeps
every value and every element:

* a ``<detail>`` child moves into its typed field only when it occurs once, has no
  children or text, and has exactly the attributes the message carries (``contact``:
  ``callsign``, optionally a non-empty ``endpoint``) with values the field can hold;
  anything else stays whole in ``xmlDetail``;
* on the way back the typed fields become elements first, then the ``xmlDetail`` children
  follow; when ``xmlDetail`` already holds an element of the same name, that one wins;
* ``access`` is left out for ``Undefined`` and read back as ``Undefined`` when empty;
  hae/ce/le at or above the unknown threshold travel as 999999 and come back as
  :data:`~rallypoint.cot.event.UNKNOWN_DISTANCE`; other empty strings come back as absent.

A ``TakMessage`` without ``cotEvent`` (a mesh peer's version announcement) is not an error:
:func:`proto_to_event` returns ``None`` for it.
"""

import math
import re
from collections.abc import Callable

from google.protobuf.message import DecodeError
from lxml import etree

from rallypoint.cot.event import UNKNOWN_DISTANCE, UNKNOWN_THRESHOLD, Contact, Detail, Event, Group, Point
from rallypoint.cot.proto import takmessage_pb2 as pb
from rallypoint.cot.timefmt import is_valid_millis
from rallypoint.cot.xml import (
    DEFAULT_LIMITS,
    XML_WHITESPACE,
    XmlLimits,
    check_detail,
    detail_elements,
    detail_tree,
    escape_attribute,
    format_number,
    frame_safe_detail,
    parse_detail,
)
from rallypoint.errors import InvalidEvent, MalformedFrame, MalformedXml

PROTO_UNKNOWN = 999999.0
"""How ``CotEvent`` writes an unknown hae/ce/le (cotevent.proto: "use 999999 for unknown")."""

UNDEFINED_ACCESS = "Undefined"
MICROS_PER_MILLI = 1_000
"""Times sent in microseconds are scaled by this (see :func:`as_millis`)."""
MICROSECONDS_FLOOR = 10**15
"""The smallest time read as microseconds (2001-09-09): as milliseconds it would be the year
33658, far past what we can write, so no valid millisecond time is misread."""
"""The ``access`` value an empty protobuf field stands for."""

_UINT32_LIMIT = 1 << 32
_BATTERY_TEXT = re.compile(r"0|[1-9][0-9]{0,9}")
"""Canonical decimal only, so the integer written back is the same text."""

_TYPED_TAG = re.compile(r"<(?:contact|__group|precisionlocation|status|takv|track)[\s/>]")
"""Cheap pre-check: detail text without these start tags needs no per-element split."""

_ROUTING_TAG = re.compile(
    r"<(?:contact|__group|marti|__chat|__chatreceipt|emergency|link|__forcedelete|TakControl)[\s/>]"
)
"""Elements the routing view reads; xmlDetail without them needs checking, not reading."""

_NOT_XML_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry; an event containing one could not be relayed as XML."""


_NEEDS_ESCAPE = re.compile('[&<>"\t\n\r]')
"""Most values need no escaping, and testing for that is far cheaper than ``str.translate``."""

_SPECIAL_DOUBLES = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
"""Java spellings, which TAK's XML readers parse; Python's ``nan``/``inf`` they refuse."""


def event_to_proto(event: Event) -> bytes:
    """Serialise ``event`` as a ``TakMessage`` payload (no framing) carrying a ``cotEvent``."""
    point = event.point
    access = event.access
    cot = pb.CotEvent(
        type=event.type,
        access="" if access is None or access == UNDEFINED_ACCESS else access,
        qos=event.qos or "",
        opex=event.opex or "",
        uid=event.uid,
        sendTime=event.time,
        startTime=event.start,
        staleTime=event.stale,
        how=event.how,
        lat=point.lat,
        lon=point.lon,
        hae=PROTO_UNKNOWN if point.hae >= UNKNOWN_THRESHOLD else point.hae,
        ce=PROTO_UNKNOWN if point.ce >= UNKNOWN_THRESHOLD else point.ce,
        le=PROTO_UNKNOWN if point.le >= UNKNOWN_THRESHOLD else point.le,
        detail=None if event.detail is None else _detail_to_proto(event.detail),
        caveat=event.caveat or "",
        releaseableTo=event.releasable_to or "",
    )
    return pb.TakMessage(cotEvent=cot).SerializeToString()


def proto_to_event(payload: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> Event | None:
    """Parse a ``TakMessage`` payload; ``None`` means a control-only message (no ``cotEvent``).

    Raises :class:`MalformedFrame` when the payload is not a protobuf ``TakMessage``,
    :class:`InvalidEvent` when its event breaks the CoT rules, and the XML errors of
    :func:`~rallypoint.cot.xml.parse_detail` when ``xmlDetail`` is bad or too large.
    """
    message = pb.TakMessage()
    try:
        message.ParseFromString(payload)
    except DecodeError as exc:
        raise MalformedFrame(f"payload is not a TakMessage: {exc}") from exc
    if not message.HasField("cotEvent"):
        return None
    cot = message.cotEvent
    if not cot.uid or not cot.type:
        raise InvalidEvent("cotEvent lacks its uid or type")
    texts = (cot.uid, cot.type, cot.how, cot.access, cot.qos, cot.opex, cot.caveat, cot.releaseableTo)
    if _NOT_XML_CHARACTER.search("".join(texts)):
        raise InvalidEvent("cotEvent has a character XML cannot carry")
    sent, start, stale = (as_millis(value) for value in (cot.sendTime, cot.startTime, cot.staleTime))
    return Event(
        uid=cot.uid,
        type=cot.type,
        how=cot.how,
        time=sent,
        start=start,
        stale=stale,
        point=_point_from_proto(cot),
        detail=_detail_from_proto(cot.detail, limits) if cot.HasField("detail") else None,
        access=cot.access or UNDEFINED_ACCESS,
        qos=cot.qos or None,
        opex=cot.opex or None,
        caveat=cot.caveat or None,
        releasable_to=cot.releaseableTo or None,
    )


def as_millis(value: int) -> int:
    """A ``cotEvent`` time in milliseconds. The protocol says milliseconds, but TAK Server's own
    load tool writes microseconds, and TAK Server accepts them: a value of this century in
    microseconds (at least :data:`MICROSECONDS_FLOOR`, whose thousandth is a valid time) is scaled."""
    if is_valid_millis(value):
        return value
    if value >= MICROSECONDS_FLOOR and is_valid_millis(value // MICROS_PER_MILLI):
        return value // MICROS_PER_MILLI
    raise InvalidEvent(f"cotEvent time {value} ms is out of range")


def _point_from_proto(cot: pb.CotEvent) -> Point:
    values = (cot.lat, cot.lon, cot.hae, cot.ce, cot.le)
    if not all(math.isfinite(value) for value in values):
        raise InvalidEvent("cotEvent point has a value that is not finite")
    if not (-90.0 <= cot.lat <= 90.0 and -180.0 <= cot.lon <= 180.0):
        raise InvalidEvent(f"point {cot.lat},{cot.lon} is outside WGS-84 bounds")
    return Point(
        lat=cot.lat,
        lon=cot.lon,
        hae=UNKNOWN_DISTANCE if cot.hae >= UNKNOWN_THRESHOLD else cot.hae,
        ce=UNKNOWN_DISTANCE if cot.ce >= UNKNOWN_THRESHOLD else cot.ce,
        le=UNKNOWN_DISTANCE if cot.le >= UNKNOWN_THRESHOLD else cot.le,
    )


# XML -> protobuf: one converter per typed field. Each checks the element's attributes and,
# only when the whole element fits, fills its field and returns True (never half of one).


def _contact_to_proto(attributes: dict[str, str], detail: pb.Detail) -> bool:
    endpoint = attributes.get("endpoint")
    if "callsign" not in attributes or len(attributes) != (1 if endpoint is None else 2) or endpoint == "":
        return False  # an empty endpoint would come back absent
    contact = detail.contact
    contact.callsign = attributes["callsign"]
    contact.endpoint = endpoint or ""
    return True


def _group_to_proto(attributes: dict[str, str], detail: pb.Detail) -> bool:
    if attributes.keys() != {"name", "role"}:
        return False
    group = detail.group
    group.name, group.role = attributes["name"], attributes["role"]
    return True


def _precision_location_to_proto(attributes: dict[str, str], detail: pb.Detail) -> bool:
    if attributes.keys() != {"geopointsrc", "altsrc"}:
        return False
    location = detail.precisionLocation
    location.geopointsrc, location.altsrc = attributes["geopointsrc"], attributes["altsrc"]
    return True


def _status_to_proto(attributes: dict[str, str], detail: pb.Detail) -> bool:
    battery = attributes.get("battery")
    if len(attributes) != 1 or battery is None or not _BATTERY_TEXT.fullmatch(battery):
        return False
    value = int(battery)
    if value >= _UINT32_LIMIT:
        return False
    detail.status.battery = value
    return True


def _takv_to_proto(attributes: dict[str, str], detail: pb.Detail) -> bool:
    if attributes.keys() != {"device", "platform", "os", "version"}:
        return False
    takv = detail.takv
    takv.device, takv.platform = attributes["device"], attributes["platform"]
    takv.os, takv.version = attributes["os"], attributes["version"]
    return True


def _track_to_proto(attributes: dict[str, str], detail: pb.Detail) -> bool:
    if attributes.keys() != {"speed", "course"}:
        return False
    try:
        speed, course = float(attributes["speed"]), float(attributes["course"])
    except ValueError:
        return False
    if not (math.isfinite(speed) and math.isfinite(course)):
        return False  # "NaN" would come back spelled differently
    track = detail.track
    track.speed, track.course = speed, course
    return True


_TO_PROTO: dict[str, Callable[[dict[str, str], pb.Detail], bool]] = {
    "contact": _contact_to_proto,
    "__group": _group_to_proto,
    "precisionlocation": _precision_location_to_proto,
    "status": _status_to_proto,
    "takv": _takv_to_proto,
    "track": _track_to_proto,
}


def _detail_to_proto(detail: Detail) -> pb.Detail:
    """Split the detail children between typed fields and ``xmlDetail``.

    The tree is walked here rather than through ``detail_elements``, which would
    serialise every child where only the ones that stay XML need it (that halves the
    cost of a PLI).
    Text directly inside ``<detail>``, between its children, is not an element and is
    not carried, as in the other implementations.
    """
    if not _TYPED_TAG.search(detail.xml):
        return pb.Detail(xmlDetail=detail.xml)
    root = detail_tree(detail)
    counts: dict[str, int] = {}
    for child in root:  # only elements: the parser drops comments and processing instructions
        counts[child.tag] = counts.get(child.tag, 0) + 1
    message = pb.Detail()
    rest: list[str] = []
    for child in root:
        convert = _TO_PROTO.get(child.tag)
        if (
            convert is None
            or counts[child.tag] > 1
            or not _is_simple(child)
            or not convert(dict(child.items()), message)  # type: ignore[arg-type]
        ):
            rest.append(etree.tostring(child, encoding="unicode", with_tail=False))
    message.xmlDetail = "".join(rest)
    return message


def _is_simple(element: etree._Element) -> bool:
    """No child elements and no text but XML whitespace (a typed field has no room for text)."""
    return len(element) == 0 and not (element.text and element.text.strip(XML_WHITESPACE))


# protobuf -> XML


def _attribute(value: str) -> str:
    return escape_attribute(value) if _NEEDS_ESCAPE.search(value) else value


def _double_text(value: float) -> str:
    return format_number(value) if math.isfinite(value) else _SPECIAL_DOUBLES[repr(value)]


def _typed_elements(detail: pb.Detail) -> list[tuple[str, str]]:
    """The typed fields that are present, as ``(tag, element XML)``, in field order."""
    esc = _attribute
    elements = []
    if detail.HasField("contact"):
        contact = detail.contact
        endpoint = f' endpoint="{esc(contact.endpoint)}"' if contact.endpoint else ""
        elements.append(("contact", f'<contact callsign="{esc(contact.callsign)}"{endpoint}/>'))
    if detail.HasField("group"):
        group = detail.group
        elements.append(("__group", f'<__group name="{esc(group.name)}" role="{esc(group.role)}"/>'))
    if detail.HasField("precisionLocation"):
        location = detail.precisionLocation
        sources = f'geopointsrc="{esc(location.geopointsrc)}" altsrc="{esc(location.altsrc)}"'
        elements.append(("precisionlocation", f"<precisionlocation {sources}/>"))
    if detail.HasField("status"):
        elements.append(("status", f'<status battery="{detail.status.battery}"/>'))
    if detail.HasField("takv"):
        takv = detail.takv
        elements.append(
            (
                "takv",
                f'<takv device="{esc(takv.device)}" platform="{esc(takv.platform)}"'
                f' os="{esc(takv.os)}" version="{esc(takv.version)}"/>',
            )
        )
    if detail.HasField("track"):
        track = detail.track
        speed, course = _double_text(track.speed), _double_text(track.course)
        elements.append(("track", f'<track speed="{speed}" course="{course}"/>'))
    return elements


def _detail_from_proto(detail: pb.Detail, limits: XmlLimits) -> Detail:
    typed = _typed_elements(detail)
    xml = frame_safe_detail(detail.xmlDetail, limits)
    if typed and _TYPED_TAG.search(xml):
        in_xml = {element.tag for element in detail_elements(Detail(xml=xml), limits)}
        typed = [(tag, text) for tag, text in typed if tag not in in_xml]
    typed_xml = "".join(text for _, text in typed)
    combined = typed_xml + xml
    if not combined:
        return Detail()
    if _ROUTING_TAG.search(xml):
        return parse_detail(combined, limits)
    if _NOT_XML_CHARACTER.search(typed_xml):
        raise MalformedXml("a typed detail field has a character XML cannot carry")
    check_detail(xml, limits)  # routing reads nothing in xmlDetail: only prove it is sound XML
    contact = detail.contact if detail.HasField("contact") else None
    group = detail.group if detail.HasField("group") else None
    return Detail(
        xml=combined,
        contact=None if contact is None else Contact(contact.callsign, contact.endpoint or None),
        group=None if group is None else Group(group.name, group.role),
    )
