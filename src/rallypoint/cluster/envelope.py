"""What one routed event looks like on the cluster bus: NATS headers and the event's XML.

Sans-I/O. The payload is the event as CoT XML with its ``marti`` destinations (the receiving
node routes by them), encoded once on the origin node whatever the number of nodes. The
headers say who sent it (:class:`~rallypoint.router.remote.RemoteSender`), whether it is a
departure, and a message id: JetStream drops a republished duplicate by ``Nats-Msg-Id`` and
each node drops one it has already routed.
"""

import json
from typing import NamedTuple

from rallypoint.errors import ClusterError
from rallypoint.router.remote import RemoteSender

MSG_ID_HEADER = "Nats-Msg-Id"
META_HEADER = "Rallypoint-Meta"
ENVELOPE_VERSION = 1
MAX_META_BYTES = 16 * 1024
"""A sender's description at most (its groups included); a larger header is refused."""

KIND_EVENT = "event"
KIND_DEPARTED = "departed"
KIND_JOURNAL = "journal"
"""Not an event: the sender's node appended to a shared journal, the prefix in ``topic``."""
KIND_SEND_TO = "send_to"
"""The server itself sends an event to one device connected to another node (``Host.send_to``)."""


class Envelope(NamedTuple):
    """One event received from the bus, before it is parsed and routed."""

    msg_id: str
    kind: str
    sender: RemoteSender
    payload: bytes
    to: tuple[str, str] | None = None
    """For :data:`KIND_SEND_TO`: the node the device is connected to, and its uid."""
    topic: str | None = None
    """For :data:`KIND_JOURNAL`: the stream prefix of the journal that changed."""


def encode_headers(
    msg_id: str,
    sender: RemoteSender,
    *,
    departed: bool,
    kind: str | None = None,
    to: tuple[str, str] | None = None,
    topic: str | None = None,
) -> dict[str, str]:
    """The NATS headers of one routed event (JSON is ASCII-only: safe in a header line)."""
    meta = {
        "v": ENVELOPE_VERSION,
        "kind": kind or (KIND_DEPARTED if departed else KIND_EVENT),
        "node": sender.node,
        "conn": sender.connection,
        "identity": sender.identity,
        "uid": sender.uid,
        "callsign": sender.callsign,
        "team": sender.team,
        "in": sorted(sender.in_groups),
        "out": sorted(sender.out_groups),
    }
    if to is not None:
        meta["to"] = list(to)
    if topic is not None:
        meta["topic"] = topic
    return {MSG_ID_HEADER: msg_id, META_HEADER: json.dumps(meta, separators=(",", ":"))}


def decode(headers: dict[str, str] | None, payload: bytes) -> Envelope:
    """The envelope of one bus message; :class:`ClusterError` if it is not one of ours."""
    if not headers or META_HEADER not in headers or MSG_ID_HEADER not in headers:
        raise ClusterError("no Rallypoint headers")
    raw = headers[META_HEADER]
    if len(raw) > MAX_META_BYTES:
        raise ClusterError(f"sender description of {len(raw)} bytes")
    try:
        meta = json.loads(raw)
    except ValueError as exc:
        raise ClusterError(f"sender description is not JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("v") != ENVELOPE_VERSION:
        raise ClusterError("unknown envelope version")
    kind = meta.get("kind")
    if kind not in (KIND_EVENT, KIND_DEPARTED, KIND_SEND_TO, KIND_JOURNAL):
        raise ClusterError(f"unknown kind {kind!r}")
    sender = RemoteSender(
        node=_text(meta, "node"),
        connection=_integer(meta, "conn"),
        identity=_optional(meta, "identity"),
        uid=_optional(meta, "uid"),
        callsign=_optional(meta, "callsign"),
        team=_optional(meta, "team"),
        in_groups=_groups(meta, "in"),
        out_groups=_groups(meta, "out"),
    )
    to = meta.get("to")
    if kind == KIND_SEND_TO and not (
        isinstance(to, list) and len(to) == 2 and all(isinstance(part, str) and part for part in to)
    ):
        raise ClusterError("send_to without its node and uid")
    target = (to[0], to[1]) if kind == KIND_SEND_TO and isinstance(to, list) else None
    topic = _optional(meta, "topic")
    if kind == KIND_JOURNAL and not topic:
        raise ClusterError("journal notice without its topic")
    return Envelope(headers[MSG_ID_HEADER], kind, sender, payload, target, topic)


def _text(meta: dict[str, object], key: str) -> str:
    value = meta.get(key)
    if not isinstance(value, str) or not value:
        raise ClusterError(f"{key} missing")
    return value


def _integer(meta: dict[str, object], key: str) -> int:
    value = meta.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ClusterError(f"{key} is not an integer")
    return value


def _optional(meta: dict[str, object], key: str) -> str | None:
    value = meta.get(key)
    if value is not None and not isinstance(value, str):
        raise ClusterError(f"{key} is not text")
    return value


def _groups(meta: dict[str, object], key: str) -> frozenset[str]:
    value = meta.get(key)
    if not isinstance(value, list) or not all(isinstance(group, str) for group in value):
        raise ClusterError(f"{key} is not a list of groups")
    return frozenset(value)
