"""TAK Server's CoT injectors: an element added to ``<detail>`` of every event of one uid.

An administrator sets an injector as TAK Server takes it, ``{uid, toInject}``, where
``toInject`` is the inside of one empty element (``__video url="rtsp://cam/1"``): the server
wraps it as ``<…/>``, so it can carry attributes but neither text nor children. The router
applies the table to each event before choosing its receivers, so every receiver (and the
cache and the store) sees the same injected event.

An injector applies only to senders in one of the groups of the administrator who set it: an
administrator of one team cannot change what another team's devices say. Elements the router
reads for routing (``marti``, ``contact``, ``__group``, ``emergency`` …) cannot be injected:
the router reads them once, at decoding, and an injected one would mean one thing to it and
another to the receivers.
"""

from typing import NamedTuple

from lxml import etree

from rallypoint.cot.detail import CAPTURED_TAGS
from rallypoint.cot.event import Event
from rallypoint.cot.xml import MARKUP_DECLARATION, hardened_parser
from rallypoint.errors import InvalidEvent, MalformedXml

MAX_FRAGMENT_CHARS = 1024
"""A tag with a few attributes (a video URL, a remark): never a document."""
MAX_PER_UID = 8
"""Injectors of one uid: each adds to every event that device sends."""
MAX_INJECTIONS = 1024
"""Injectors of the whole server: a few for each device of a large deployment."""
RESERVED_TAGS = frozenset(tag.casefold() for tag in CAPTURED_TAGS | {"event", "detail", "point"})
"""What the router reads for routing, and the event's own structure."""

_PARSER = hardened_parser(remove_blank_text=False)


class Injection(NamedTuple):
    """One injector: ``element`` (``<tag …/>``) joins the detail of ``uid``'s events."""

    uid: str
    element: str
    groups: frozenset[str]
    """The groups of the administrator who set it: senders in one of them are injected."""
    creator: str | None
    created: int

    @property
    def to_inject(self) -> str:
        """The element as TAK Server lists it: without its ``<`` and ``/>``."""
        return self.element[1:-2]


def injected_element(to_inject: str) -> str:
    """``<to_inject/>`` checked and written as the server keeps it (InvalidEvent, MalformedXml).

    Parsed with the settings every untrusted XML gets (no DTD, no entities, no network)."""
    if not to_inject or len(to_inject) > MAX_FRAGMENT_CHARS:
        raise InvalidEvent(f"toInject must be 1..{MAX_FRAGMENT_CHARS} characters")
    if "<" in to_inject or ">" in to_inject:
        raise InvalidEvent("toInject is the inside of one empty element: no < or >")
    data = f"<{to_inject}/>".encode()
    if MARKUP_DECLARATION.search(data):
        raise InvalidEvent("declarations cannot be injected")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise MalformedXml(f"toInject is not one XML element: {exc}") from exc
    if not isinstance(root.tag, str) or etree.QName(root).localname.casefold() in RESERVED_TAGS:
        raise InvalidEvent(f"<{root.tag}> is read for routing and cannot be injected")
    return str(etree.tostring(root, encoding="unicode"))


class InjectionTable:
    """The server's injectors by uid; :meth:`apply` is on the routing path (one dict lookup)."""

    def __init__(self) -> None:
        self._by_uid: dict[str, list[Injection]] = {}
        self._count = 0
        self.active = False
        """Some injector is kept: the router's one test per event (an attribute, not a call)."""

    def __len__(self) -> int:
        return self._count

    def find(self, uid: str, element: str) -> Injection | None:
        return next((i for i in self._by_uid.get(uid, ()) if i.element == element), None)

    def all(self) -> list[Injection]:
        return sorted((i for kept in self._by_uid.values() for i in kept), key=lambda i: (i.created, i.uid))

    def room_for(self, uid: str) -> str | None:
        """Why another injector of ``uid`` cannot be added (None: it can)."""
        if self._count >= MAX_INJECTIONS:
            return f"the server keeps at most {MAX_INJECTIONS} injectors"
        if len(self._by_uid.get(uid, ())) >= MAX_PER_UID:
            return f"a uid has at most {MAX_PER_UID} injectors"
        return None

    def add(self, injection: Injection) -> None:
        """Keep ``injection`` (the caller checked :meth:`find` and :meth:`room_for`)."""
        self._by_uid.setdefault(injection.uid, []).append(injection)
        self._count += 1
        self.active = True

    def remove(self, injection: Injection) -> None:
        kept = self._by_uid.get(injection.uid, [])
        if injection in kept:
            kept.remove(injection)
            self._count -= 1
        if not kept:
            self._by_uid.pop(injection.uid, None)
        self.active = self._count > 0

    def apply(self, event: Event, sender_groups: frozenset[str]) -> Event:
        """``event`` with the elements injected for its uid and its sender's groups (itself if none)."""
        injections = self._by_uid.get(event.uid)
        if not injections or event.detail is None:  # TAK Server too injects only into a <detail>
            return event
        added = "".join(i.element for i in injections if not i.groups.isdisjoint(sender_groups))
        if not added:
            return event
        return event._replace(detail=event.detail._replace(xml=event.detail.xml + added))
