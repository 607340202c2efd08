"""GeoChat for the web command post: the page's messages as TAK GeoChat, and back.

The page writes as ``web-<user>`` with the user name as callsign. A message to "All Chat
Rooms" is the broadcast ATAK sends (no ``marti``); a direct message carries
``<marti><dest callsign=…/></marti>`` naming the contact's callsign, with ``chatroom`` = that
callsign and ``chatgrp uid0=web-<user> uid1=<contact uid>``, the shape ATAK writes, so the
contact's ATAK files it under a conversation with the user and its replies come back
addressed to the user's callsign.
"""

import uuid
from typing import Any

from rallypoint.cot import types
from rallypoint.cot.event import Detail, Event, Point
from rallypoint.cot.timefmt import format_time
from rallypoint.cot.xml import detail_tree, escape_attribute, parse_detail
from rallypoint.errors import ProtocolError

CHAT_STALE_MS = 24 * 3600 * 1000
"""How long a chat message is valid (what ATAK writes)."""
MAX_CHAT_CHARS = 4000
"""Longest message the page may send; ATAK's own limit is lower in practice."""
WEB_CONTACT_TYPE = "a-f-G-U-C"
DIRECT_PARENT = "RootContactGroup"

ChatMessage = dict[str, Any]
"""``{"id","from_uid","from_callsign","to","room","text","time"}`` (the web specification)."""


def chat_event(
    sender_uid: str,
    callsign: str,
    text: str,
    now_ms: int,
    *,
    to_uid: str | None = None,
    to_callsign: str | None = None,
) -> Event:
    """A ``b-t-f`` from the page: to All Chat Rooms, or to one contact when ``to_uid`` is given."""
    direct = to_uid is not None
    room = (to_callsign or to_uid or "") if direct else types.ALL_CHAT_ROOMS
    room_id = to_uid if direct else types.ALL_CHAT_ROOMS
    assert room_id is not None
    message_id = str(uuid.uuid4())
    when = format_time(now_ms)
    esc = escape_attribute
    parts = [
        f'<__chat parent="{DIRECT_PARENT}" groupOwner="false" chatroom="{esc(room)}" id="{esc(room_id)}"'
        f' senderCallsign="{esc(callsign)}" messageId="{message_id}">'
        f'<chatgrp uid0="{esc(sender_uid)}" uid1="{esc(room_id)}" id="{esc(room_id)}"/></__chat>',
        f'<link uid="{esc(sender_uid)}" type="{WEB_CONTACT_TYPE}" relation="p-p"/>',
        f'<remarks source="BAO.F.Rallypoint.{esc(sender_uid)}" to="{esc(room_id)}" time="{when}">'
        f"{esc(text)}</remarks>",
    ]
    if direct:
        dest = f'callsign="{esc(to_callsign)}"' if to_callsign else f'uid="{esc(room_id)}"'
        parts.append(f"<marti><dest {dest}/></marti>")
    detail: Detail = parse_detail("".join(parts))
    return Event(
        uid=f"GeoChat.{sender_uid}.{room}.{message_id}",
        type=types.CHAT,
        how="h-g-i-g-o",
        time=now_ms,
        start=now_ms,
        stale=now_ms + CHAT_STALE_MS,
        point=Point(),
        detail=detail,
    )


def chat_json(event: Event) -> ChatMessage | None:
    """The page's view of a routed GeoChat, or None for what is not a chat message (receipts)."""
    chat = event.detail.chat if event.detail else None
    if event.type != types.CHAT or chat is None or event.detail is None:
        return None
    text = _remarks(event.detail)
    if text is None:
        return None
    participants = chat.participants
    from_uid = participants[0] if participants else _sender_from_uid(event.uid)
    if chat.chatroom == types.ALL_CHAT_ROOMS:
        to = types.ALL_CHAT_ROOMS
    else:
        to = participants[1] if len(participants) > 1 else chat.chat_id
    return {
        "id": event.uid,
        "from_uid": from_uid,
        "from_callsign": chat.sender_callsign or from_uid,
        "to": to,
        "room": chat.chatroom,
        "text": text,
        "time": event.time,
    }


def _remarks(detail: Detail) -> str | None:
    try:
        root = detail_tree(detail)
    except ProtocolError:
        return None
    element = root.find("remarks")
    return None if element is None else (element.text or "")[:MAX_CHAT_CHARS]


def _sender_from_uid(uid: str) -> str:
    """``GeoChat.<sender>.<room>.<id>`` → ``<sender>`` (older clients send no ``chatgrp``)."""
    parts = uid.split(".")
    return parts[1] if len(parts) >= 4 and parts[0] == "GeoChat" else ""
