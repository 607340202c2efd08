"""The routing view of ``<detail>``: contact, group, destinations, chat, emergency, links.

Readers work on the :class:`~rallypoint.cot.xmlscan.Node` values the scanner captured, so
only the handful of elements routing cares about are ever looked at from Python.
"""

from collections.abc import Callable

from rallypoint.cot.event import Chat, Contact, Dest, Detail, Emergency, Group, Link, TakControl
from rallypoint.cot.xmlscan import Node

_DEST_KEYS = ("callsign", "uid", "mission", "mission-guid", "group")


def build_detail(xml: str, nodes: list[Node]) -> Detail:
    """A :class:`Detail` holding ``xml`` verbatim plus what the captured nodes say."""
    if not nodes:
        return Detail(xml=xml)
    fields: dict[str, object] = {}
    for node in nodes:
        READERS[node.tag](node, fields)
    return Detail(xml=xml, **fields)  # type: ignore[arg-type]


def _read_contact(node: Node, fields: dict[str, object]) -> None:
    attributes = node.attributes
    fields.setdefault("contact", Contact(attributes.get("callsign"), attributes.get("endpoint")))


def _read_group(node: Node, fields: dict[str, object]) -> None:
    name = node.attributes.get("name")
    if name is not None:
        fields.setdefault("group", Group(name, node.attributes.get("role") or ""))


def _read_marti(node: Node, fields: dict[str, object]) -> None:
    fields["has_marti"] = True
    dests: tuple[Dest, ...] = fields.get("dests", ())  # type: ignore[assignment]
    for tag, attributes in node.children:
        if tag == "dest":
            values = [attributes.get(key) for key in _DEST_KEYS]
            if any(values):
                dests = (*dests, Dest(*values))
    fields["dests"] = dests


def _read_chat(node: Node, fields: dict[str, object]) -> None:
    participants: tuple[str, ...] = ()
    for tag, attributes in node.children:
        if tag == "chatgrp":
            participants = tuple(
                attributes[f"uid{index}"] for index in range(len(attributes)) if attributes.get(f"uid{index}")
            )
            break
    attributes = node.attributes
    fields.setdefault(
        "chat",
        Chat(
            chatroom=attributes.get("chatroom") or "",
            chat_id=attributes.get("id") or "",
            parent=attributes.get("parent"),
            sender_callsign=attributes.get("senderCallsign"),
            participants=participants,
        ),
    )


def _read_emergency(node: Node, fields: dict[str, object]) -> None:
    attributes = node.attributes
    fields.setdefault(
        "emergency",
        Emergency(
            type=attributes.get("type"),
            cancel=(attributes.get("cancel") or "").lower() == "true",
            callsign=node.text.strip(),
        ),
    )


def _read_link(node: Node, fields: dict[str, object]) -> None:
    attributes = node.attributes
    uid = attributes.get("uid")
    if uid:
        links: tuple[Link, ...] = fields.get("links", ())  # type: ignore[assignment]
        fields["links"] = (*links, Link(uid, attributes.get("type"), attributes.get("relation")))


def _read_force_delete(_node: Node, fields: dict[str, object]) -> None:
    fields["force_delete"] = True


def _read_control(node: Node, fields: dict[str, object]) -> None:
    supported: list[str] = []
    requested: str | None = None
    status: bool | None = None
    for tag, attributes in node.children:
        if tag == "TakProtocolSupport":
            supported.append(attributes.get("version") or "")
        elif tag == "TakRequest":
            requested = attributes.get("version")
        elif tag == "TakResponse":
            status = (attributes.get("status") or "").lower() == "true"
    fields["control"] = TakControl(tuple(supported), requested, status)


READERS: dict[str, Callable[[Node, dict[str, object]], None]] = {
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
CAPTURED_TAGS = frozenset(READERS)
"""The ``<detail>`` children the scanner keeps for routing."""
