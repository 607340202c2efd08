"""CoT events (from a gateway feed, or the PLI of connected clients) as fusion reports.

Only atoms (``a-...``: things with a position) are reports; their identity is the event
uid (``uid:<uid>``). An event that already carries a ``<__fusion>`` detail is a fused track
(ours or another server's): feeding it back would make a track confirm itself, so it is
ignored.
"""

import re
from types import MappingProxyType

from rallypoint.cot.event import UNKNOWN_THRESHOLD, Event
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.decoded import Decoded, error, ignored, one
from rallypoint.fusion.feeds.units import course, valid_position
from rallypoint.fusion.report import Domain, Report

FUSION_DETAIL = "<__fusion"
"""The start of the provenance element fused tracks carry (docs/fusion.md)."""
_TRACK = re.compile(r"<track\b([^>]*)/?>")
_ATTRIBUTE = re.compile(r"""\b(course|speed)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_DOMAIN_BY_DIMENSION = {"A": Domain.AIR, "P": Domain.AIR, "S": Domain.SEA, "U": Domain.SEA}
"""2525 battle dimension (third field of an atom's type) to motion domain; others are ground."""


def domain_of(cot_type: str) -> Domain:
    """``a-f-A-M-H`` -> air, ``a-n-S`` -> sea, ``a-f-G-U-C`` -> ground."""
    parts = cot_type.split("-")
    return _DOMAIN_BY_DIMENSION.get(parts[2], Domain.GROUND) if len(parts) > 2 else Domain.GROUND


def track_of(detail_xml: str) -> tuple[float | None, float | None]:
    """(course in degrees, speed in m/s) from a ``<track>`` detail element, where given."""
    match = _TRACK.search(detail_xml)
    if match is None:
        return None, None
    values: dict[str, float] = {}
    for name, double, single in _ATTRIBUTE.findall(match.group(1)):
        try:
            values[name] = float(double or single)
        except ValueError:
            continue
    speed = values.get("speed")
    heading = values.get("course")
    return (
        course(heading) if heading is not None else None,
        speed if speed is not None and 0.0 <= speed < UNKNOWN_THRESHOLD else None,
    )


def event_report(event: Event, source: str, kind: str, default_sigma_m: float, received_ms: int) -> Decoded:
    """The report one CoT event makes (or why it makes none)."""
    if not event.type.startswith("a-"):
        return ignored("not_an_atom")
    detail_xml = event.detail.xml if event.detail is not None else ""
    if FUSION_DETAIL in detail_xml:
        return ignored("fused_track")
    point = event.point
    if not valid_position(point.lat, point.lon):
        return error("bad_position")
    heading, speed = track_of(detail_xml)
    ce = point.ce
    return one(
        Report(
            source=source,
            kind=kind,
            identity=f"uid:{event.uid}",
            time_ms=event.time,
            received_ms=received_ms,
            lat=point.lat,
            lon=point.lon,
            hae=point.hae if point.hae < UNKNOWN_THRESHOLD else None,
            course=heading,
            speed=speed,
            sigma_m=ce if 0.0 < ce < UNKNOWN_THRESHOLD else default_sigma_m,
            domain=domain_of(event.type),
            callsign=event.callsign,
            attributes=MappingProxyType({"type": event.type, "how": event.how}),
        )
    )


class CotDecoder:
    """CoT XML from a gateway (one event per datagram, or framed from a stream)."""

    def __init__(self, feed: FeedConfig, limits: XmlLimits | None = None) -> None:
        self.feed = feed
        self.limits = limits or XmlLimits()

    def decode(self, data: bytes, received_ms: int) -> Decoded:
        """One event's bytes."""
        try:
            event = parse_event(data, self.limits)
        except ProtocolError as exc:
            return error(exc.reason)
        return event_report(event, self.feed.name, "cot", self.feed.sigma_m, received_ms)
