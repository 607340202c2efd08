"""The CoT event model: frozen values that every layer above the codecs works with.

Values are ``NamedTuple`` subclasses: frozen, typed, and about ten times cheaper to build
than frozen dataclasses, which matters at tens of thousands of events a second.
An :class:`Event` carries the attributes of ``<event>`` and ``<point>`` as typed values and
the ``<detail>`` children as XML text (kept whole, so unknown elements round-trip), plus a
:class:`Detail` view of the few elements routing needs, parsed once by the codec.
"""

from typing import NamedTuple

UNKNOWN_DISTANCE = 9999999.0
"""How ATAK writes an unknown hae/ce/le."""

UNKNOWN_THRESHOLD = 999999.0
"""Any hae/ce/le at or above this means "unknown" (some senders write six nines)."""


class Point(NamedTuple):
    """``<point>``: WGS-84 position with height and error estimates in metres."""

    lat: float = 0.0
    lon: float = 0.0
    hae: float = UNKNOWN_DISTANCE
    ce: float = UNKNOWN_DISTANCE
    le: float = UNKNOWN_DISTANCE


class Contact(NamedTuple):
    """``<contact>``: display name and how to reach the sender."""

    callsign: str | None = None
    endpoint: str | None = None


class Group(NamedTuple):
    """``<__group>``: team colour and role (display information, not a routing boundary)."""

    name: str
    role: str


class Dest(NamedTuple):
    """One ``<marti><dest .../></marti>`` routing instruction."""

    callsign: str | None = None
    uid: str | None = None
    mission: str | None = None
    mission_guid: str | None = None
    group: str | None = None


class Chat(NamedTuple):
    """``<__chat>`` (or ``<__chatreceipt>``): the GeoChat envelope."""

    chatroom: str
    chat_id: str
    parent: str | None = None
    sender_callsign: str | None = None
    participants: tuple[str, ...] = ()
    """``chatgrp`` uids: ``uid0`` is the sender, the rest are recipients or the room."""


class Emergency(NamedTuple):
    """``<emergency>``: an alert, or its cancellation."""

    type: str | None
    cancel: bool
    callsign: str


class Link(NamedTuple):
    """A ``<link>`` with a ``uid``: a relation to another object."""

    uid: str
    type: str | None = None
    relation: str | None = None


class TakControl(NamedTuple):
    """``<TakControl>``: protocol negotiation content (offer, request or response)."""

    supported_versions: tuple[str, ...] = ()
    requested_version: str | None = None
    response_status: bool | None = None


class DetailElement(NamedTuple):
    """One child of ``<detail>``, kept as its XML text with a summary of its shape."""

    tag: str
    xml: str
    """The element serialised on its own (attributes, children and text included)."""
    attributes: tuple[tuple[str, str], ...] = ()
    simple: bool = True
    """No child elements and no text: only such elements can map to typed protobuf fields."""


class Detail(NamedTuple):
    """The children of ``<detail>`` as XML text, and the parts routing reads from them.

    The text is kept whole and parsed into :class:`DetailElement` values only when a
    conversion needs them (``rallypoint.cot.xml.detail_elements``), which keeps the hot
    path (XML in, XML out) to one parse per message.
    """

    xml: str = ""
    """Every child serialised and concatenated, without the ``<detail>`` wrapper."""
    contact: Contact | None = None
    group: Group | None = None
    has_marti: bool = False
    dests: tuple[Dest, ...] = ()
    chat: Chat | None = None
    emergency: Emergency | None = None
    links: tuple[Link, ...] = ()
    force_delete: bool = False
    control: TakControl | None = None


class Event(NamedTuple):
    """One CoT event. Times are integer milliseconds since the Unix epoch (UTC)."""

    uid: str
    type: str
    how: str
    time: int
    start: int
    stale: int
    point: Point = Point()
    detail: Detail | None = None
    """``None`` when the event has no ``<detail>`` element at all."""
    access: str | None = None
    qos: str | None = None
    opex: str | None = None
    caveat: str | None = None
    releasable_to: str | None = None
    version: str = "2.0"

    @property
    def callsign(self) -> str | None:
        """The contact callsign, if the event has one."""
        contact = self.detail.contact if self.detail else None
        return contact.callsign if contact else None

    @property
    def is_situational_awareness(self) -> bool:
        """A client's own position report: its contact has both a callsign and an endpoint.

        This is the test TAK Server applies, and the one that binds a connection to a uid.
        """
        contact = self.detail.contact if self.detail else None
        return contact is not None and bool(contact.callsign) and bool(contact.endpoint)
