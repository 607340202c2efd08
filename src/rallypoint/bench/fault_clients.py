"""The streaming clients of ``rallypoint bench faults``: a sender that numbers its chats and
devices that record every chat they receive, on every connection they open.

A device reads each connection on its own (a connection cut mid-event leaves a fragment
that must not be glued to the next connection's bytes) and keeps every chat uid it was
given, repeats included, with the time of its first arrival. The sender keeps, per chat,
when it was written and what the server answered (``b-t-f-p`` kept, ``b-t-f-s`` refused).
Both announce each new connection with a position report whose remarks carry the
connection's number, so the sender can tell a device's live report from a replayed one and
know that the device's uid is bound again.
"""

import asyncio
import contextlib
import re
import time
from collections.abc import Callable

from rallypoint.bench.messages import pli_event
from rallypoint.bench.netns import Namespace
from rallypoint.cot import types
from rallypoint.cot.event import Detail, Event, Point
from rallypoint.cot.xml import serialize_event

READ_SIZE = 1 << 16
CHAT_LIFETIME_MS = 86_400_000
EVENT_END = b"</event>"
_START = re.compile(rb"<event [^>]*>")
_ATTRIBUTE = re.compile(rb' (uid|type)="([^"]*)"')
_LINK = re.compile(rb"rpbench-link-(\d+)")


def chat_uid(sender_uid: str, to_callsign: str, serial: int) -> str:
    return f"GeoChat.{sender_uid}.{to_callsign}.rpbench-{serial}"


def chat_bytes(
    sender_uid: str, sender_callsign: str, to_callsign: str, serial: int, now_ms: int
) -> tuple[str, bytes]:
    """A direct GeoChat to ``to_callsign`` (ATAK's shape, kept to what routing reads) and its uid."""
    uid = chat_uid(sender_uid, to_callsign, serial)
    detail = (
        f'<__chat parent="RootContactGroup" groupOwner="false" chatroom="{to_callsign}" id="{to_callsign}"'
        f' senderCallsign="{sender_callsign}" messageId="rpbench-{serial}">'
        f'<chatgrp uid0="{sender_uid}" uid1="{to_callsign}" id="{to_callsign}"/></__chat>'
        f'<link uid="{sender_uid}" type="a-f-G-U-C" relation="p-p"/>'
        f'<remarks source="BAO.F.ATAK.{sender_uid}" to="{to_callsign}">chat {serial}</remarks>'
        f'<marti><dest callsign="{to_callsign}"/></marti>'
    )
    event = Event(
        uid=uid,
        type=types.CHAT,
        how="h-g-i-g-o",
        time=now_ms,
        start=now_ms,
        stale=now_ms + CHAT_LIFETIME_MS,
        point=Point(),
        detail=Detail(xml=detail),
    )
    return uid, serialize_event(event)


def announce_bytes(uid: str, callsign: str, link: int) -> bytes:
    """The position report that binds ``uid`` on connection number ``link``."""
    event = pli_event(uid, callsign, time.time_ns() // 1_000_000)
    assert event.detail is not None  # pli_event always writes one
    xml = event.detail.xml.replace("<remarks>", f"<remarks>rpbench-link-{link} ")
    return serialize_event(event._replace(detail=Detail(xml=xml)))


def ignore_acceptance(_uid: str) -> None:
    """The default acceptance hook."""


def split_events(buffer: bytearray) -> list[tuple[str, str, bytes]]:
    """Take the complete events off the front of ``buffer``: (uid, type, bytes) each."""
    end = buffer.rfind(EVENT_END)
    if end < 0:
        return []
    complete = bytes(buffer[: end + len(EVENT_END)])
    del buffer[: end + len(EVENT_END)]
    found = []
    for event in complete.split(EVENT_END)[:-1]:
        start = _START.search(event)
        if start is None:
            continue
        attributes = dict(_ATTRIBUTE.findall(start.group(0)))
        found.append((attributes.get(b"uid", b"").decode(), attributes.get(b"type", b"").decode(), event))
    return found


class Client:
    """One device or the sender: (re)connects, announces itself, reads until the connection ends."""

    def __init__(self, uid: str, callsign: str) -> None:
        self.uid, self.callsign = uid, callsign
        self.links = 0
        """Connections opened so far (the number announced with each)."""
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self.on_accepted: Callable[[str], None] = ignore_acceptance
        """Told, the moment it is seen, of each chat the server acknowledged (kept or delivered)."""
        self.namespace: Namespace | None = None
        """Set for a device behind a namespace link: its sockets are made inside it."""

    async def connect(self, host: str, port: int) -> None:
        await self.disconnect()
        if self.namespace is None:
            reader, self._writer = await asyncio.open_connection(host, port)
        else:
            reader, self._writer = await self.namespace.connect(port)
        self.links += 1
        self._writer.write(announce_bytes(self.uid, self.callsign, self.links))
        self._reading = asyncio.create_task(self._read(reader))

    @property
    def connected(self) -> bool:
        """The current connection is still open (the server has not ended it)."""
        return self._reading is not None and not self._reading.done()

    @property
    def writable(self) -> bool:
        """Writing can still reach the server: connected, and the transport not closed under us
        (a killed server's reset closes it before the reading task has noticed)."""
        return self.connected and self._writer is not None and not self._writer.is_closing()

    async def disconnect(self) -> None:
        """End the current connection, if any, the way a device switched off does (a FIN)."""
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
            self._reading = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write(self, data: bytes) -> None:
        assert self._writer is not None, "not connected"
        self._writer.write(data)

    async def drain(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = bytearray()  # this connection's bytes only
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(READ_SIZE):
                buffer += chunk
                now = time.perf_counter_ns()
                for uid, event_type, data in split_events(buffer):
                    self.received(uid, event_type, data, now)

    def received(self, uid: str, event_type: str, data: bytes, now_ns: int) -> None:
        """One complete event arrived (subclasses keep what they count)."""


class Device(Client):
    """A recipient: every chat uid in order of arrival, repeats included."""

    def __init__(self, uid: str, callsign: str) -> None:
        super().__init__(uid, callsign)
        self.chats: list[str] = []
        self.first_arrival_ns: dict[str, int] = {}

    def received(self, uid: str, event_type: str, data: bytes, now_ns: int) -> None:
        if event_type == types.CHAT:
            self.chats.append(uid)
            if uid not in self.first_arrival_ns:
                self.first_arrival_ns[uid] = now_ns
                self.on_accepted(uid)


class Sender(Client):
    """Writes numbered chats; records when each was written and the server's answers."""

    def __init__(self, uid: str, callsign: str) -> None:
        super().__init__(uid, callsign)
        self.sent: dict[str, list[str]] = {}
        """Per recipient callsign, the chat uids in the order written."""
        self.written_ns: dict[str, int] = {}
        self.kept: set[str] = set()
        self.refused: set[str] = set()
        self.links_seen: dict[str, int] = {}
        """The highest connection number each uid announced that reached the sender."""
        self._serial = 0

    def next_uid(self, to_callsign: str) -> str:
        """The uid :meth:`send_chat` will give its next chat to ``to_callsign``."""
        return chat_uid(self.uid, to_callsign, self._serial + 1)

    def send_chat(self, to_callsign: str) -> str:
        self._serial += 1
        uid, data = chat_bytes(
            self.uid, self.callsign, to_callsign, self._serial, time.time_ns() // 1_000_000
        )
        self.write(data)
        self.written_ns[uid] = time.perf_counter_ns()
        self.sent.setdefault(to_callsign, []).append(uid)
        return uid

    def received(self, uid: str, event_type: str, data: bytes, now_ns: int) -> None:
        if event_type == types.CHAT_PENDING:
            self.kept.add(uid)
            self.on_accepted(uid)
        elif event_type == types.CHAT_DELIVERY_FAILURE:
            self.refused.add(uid)
        elif (link := _LINK.search(data)) is not None:
            self.links_seen[uid] = max(self.links_seen.get(uid, 0), int(link.group(1)))
