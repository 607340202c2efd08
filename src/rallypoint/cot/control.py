"""Server-generated control events, built from a clock value the caller passes in.

Shapes follow the reference: the negotiation offer and response (§2.3), the pong (§5.6)
and the disconnect delete (§5.8). Uids come from the caller too, so tests are deterministic.
"""

from rallypoint.cot import types
from rallypoint.cot.event import Detail, Event, Link, Point, TakControl
from rallypoint.cot.xml import escape_attribute

PROTOCOL_VERSION = "1"
"""The only TAK protocol version that exists besides XML (version 0)."""

OFFER_LIFETIME_MS = 60_000
PONG_LIFETIME_MS = 20_000
DISCONNECT_LIFETIME_MS = 20_000
SERVER_HOW = "h-g-i-g-o"
"""``how`` of server-generated messages: a position nobody vouches for."""

_CONTROL_POINT = Point(lat=0.0, lon=0.0, hae=0.0, ce=999999.0, le=999999.0)
_NULL_POINT = Point(lat=0.0, lon=0.0, hae=0.0, ce=9999999.0, le=9999999.0)


def protocol_offer(uid: str, now_ms: int, server_version: str) -> Event:
    """``t-x-takp-v``: the server can speak TAK protocol v1 on this connection."""
    xml = (
        f'<TakControl><TakProtocolSupport version="{PROTOCOL_VERSION}"/>'
        f'<TakServerVersionInfo serverVersion="{escape_attribute(server_version)}" apiVersion="3"/>'
        "</TakControl>"
    )
    control = TakControl(supported_versions=(PROTOCOL_VERSION,))
    return _control_event(uid, types.PROTOCOL_OFFER, now_ms, Detail(xml=xml, control=control))


def protocol_response(uid: str, now_ms: int, accepted: bool) -> Event:
    """``t-x-takp-r``: the answer to a client's ``t-x-takp-q`` request (same uid)."""
    status = "true" if accepted else "false"
    xml = f'<TakControl><TakResponse status="{status}"/></TakControl>'
    control = TakControl(response_status=accepted)
    return _control_event(uid, types.PROTOCOL_RESPONSE, now_ms, Detail(xml=xml, control=control))


def protocol_request(uid: str, now_ms: int, version: str = PROTOCOL_VERSION) -> Event:
    """``t-x-takp-q``: what a client sends to ask for a protocol version (tests, load generator)."""
    xml = f'<TakControl><TakRequest version="{escape_attribute(version)}"/></TakControl>'
    control = TakControl(requested_version=version)
    return _control_event(uid, types.PROTOCOL_REQUEST, now_ms, Detail(xml=xml, control=control))


def _control_event(uid: str, cot_type: str, now_ms: int, detail: Detail) -> Event:
    return Event(
        uid=uid,
        type=cot_type,
        how="m-g",
        time=now_ms,
        start=now_ms,
        stale=now_ms + OFFER_LIFETIME_MS,
        point=_CONTROL_POINT,
        detail=detail,
    )


def pong(now_ms: int) -> Event:
    """``t-x-c-t-r``: the answer to a client's ping, sent to that connection only."""
    return Event(
        uid="takPong",
        type=types.PONG,
        how=SERVER_HOW,
        time=now_ms,
        start=now_ms,
        stale=now_ms + PONG_LIFETIME_MS,
        point=_NULL_POINT,
    )


def disconnect_delete(uid: str, now_ms: int, departed_uid: str, departed_type: str) -> Event:
    """``t-x-d-d`` linking to a client whose connection closed, so others mark it stale."""
    xml = (
        f'<link uid="{escape_attribute(departed_uid)}" type="{escape_attribute(departed_type)}"'
        ' relation="p-p"/>'
    )
    return Event(
        uid=uid,
        type=types.DELETE,
        how=SERVER_HOW,
        time=now_ms,
        start=now_ms,
        stale=now_ms + DISCONNECT_LIFETIME_MS,
        point=_NULL_POINT,
        detail=Detail(xml=xml, links=(Link(departed_uid, departed_type, "p-p"),)),
    )
