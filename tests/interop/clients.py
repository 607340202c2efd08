"""Test clients that speak CoT on a real socket, built on independent code.

Nothing here imports ``rallypoint``: messages are built as text, XML is read with the
standard library's ElementTree and TAK protocol v1 frames with PyPI ``takproto``, so the
tests check the server against code that did not come from it. Used by the interop and
integration tests.

Negative checks ("B did not receive X") never sleep: the sender follows X with a broadcast
:func:`sync` marker, and since one connection's messages are routed in order, a receiver
that has the marker would already have X.
"""

import asyncio
import contextlib
import itertools
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

import takproto

from tests import waiting

HOST = "127.0.0.1"
FRAME_MAGIC = 0xBF
EVENT_END = b"</event>"
READ_SIZE = 1 << 20
DEFAULT_TIMEOUT = waiting.EVENT_TIMEOUT_S
"""Every wait in these tests is bounded by this (seconds) unless a test says otherwise."""

SYNC_TYPE = "b-x-sync"
"""Type of the marker events :func:`sync` sends: broadcast, but not cached for replay."""

_serial = itertools.count(1)


# Building messages (text, so the bytes on the wire are exactly what the test wrote)


def cot_time(offset_s: float = 0.0) -> str:
    """A CoT timestamp ``offset_s`` seconds from now, with milliseconds."""
    moment = datetime.now(UTC) + timedelta(seconds=offset_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event_xml(
    uid: str,
    cot_type: str,
    detail: str | None = "",
    *,
    lat: float = 0.0,
    lon: float = 0.0,
    how: str = "m-g",
    stale_s: float = 300.0,
    age_s: float = 0.0,
) -> bytes:
    """One ``<event>`` on one line: ``time``/``start`` now minus ``age_s``, ``stale`` ``stale_s`` after now."""
    when = cot_time(-age_s)
    body = "" if detail is None else f"<detail>{detail}</detail>"
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="{how}" time="{when}" start="{when}"'
        f' stale="{cot_time(stale_s)}"><point lat="{lat}" lon="{lon}" hae="10.0" ce="5.0" le="9999999.0"/>'
        f"{body}</event>"
    ).encode()


def pli_xml(uid: str, callsign: str, *, lat: float = 1.5, lon: float = 2.5, stale_s: float = 300.0) -> bytes:
    """An ATAK-style position report: ``contact`` with callsign *and* endpoint makes it an SA."""
    detail = (
        f'<contact callsign="{callsign}" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/>'
        f'<takv device="test" platform="ATAK-CIV" os="30" version="4.10"/><uid Droid="{callsign}"/>'
    )
    return event_xml(uid, "a-f-G-U-C", detail, lat=lat, lon=lon, stale_s=stale_s)


def chat_xml(
    sender_uid: str,
    sender_callsign: str,
    text: str,
    *,
    to_callsign: str | None = None,
    to_uid: str | None = None,
    marti: str | None = None,
) -> bytes:
    """GeoChat: to "All Chat Rooms" without a recipient, else a direct message with ``marti``.

    ``marti`` overrides the ``<dest>`` elements (for example ``<dest uid="..."/>``).
    Kept on one line because takproto only copies a one-line ``<detail>`` into ``xmlDetail``.
    """
    message_id = f"msg-{next(_serial)}"
    if to_callsign is None and to_uid is None:
        room = room_id = "All Chat Rooms"
        dests = ""
    else:
        room, room_id = to_callsign or to_uid or "", to_uid or to_callsign or ""
        dests = marti if marti is not None else f'<dest callsign="{to_callsign}"/>'
    detail = (
        f'<__chat parent="RootContactGroup" groupOwner="false" chatroom="{room}" id="{room_id}"'
        f' senderCallsign="{sender_callsign}" messageId="{message_id}">'
        f'<chatgrp uid0="{sender_uid}" uid1="{room_id}" id="{room_id}"/></__chat>'
        f'<link uid="{sender_uid}" type="a-f-G-U-C" relation="p-p"/>'
        f'<remarks source="BAO.F.ATAK.{sender_uid}" to="{room_id}" time="{cot_time()}">{text}</remarks>'
    )
    if dests:
        detail += f"<marti>{dests}</marti>"
    uid = f"GeoChat.{sender_uid}.{room}.{message_id}"
    return event_xml(uid, "b-t-f", detail, how="h-g-i-g-o", stale_s=86400)


def marker_xml(uid: str, creator_uid: str, *, stale_s: float = 3600.0) -> bytes:
    """A spot-map marker (``b-m-p-s-m``): a persistent map item, cached for replay."""
    detail = (
        f'<link uid="{creator_uid}" type="a-f-G-U-C" relation="p-p"/><contact callsign="{uid}"/>'
        '<color argb="-65536"/><archive/>'
    )
    return event_xml(uid, "b-m-p-s-m", detail, how="h-g-i-g-o", stale_s=stale_s)


def delete_xml(target_uid: str) -> bytes:
    """A client delete of ``target_uid`` (reference §1.7: link with uid, relation and type)."""
    detail = f'<link uid="{target_uid}" relation="none" type="none"/><__forcedelete/>'
    return event_xml(f"delete-{next(_serial)}", "t-x-d-d", detail, stale_s=20)


def ping_xml(device_uid: str) -> bytes:
    """A commo keepalive ping (reference §5.6)."""
    return event_xml(f"{device_uid}-ping", "t-x-c-t", "", stale_s=10)


# Reading messages


@dataclass(frozen=True)
class Message:
    """One message as a client saw it, in either wire format."""

    raw: bytes
    protobuf: bool
    uid: str
    type: str
    detail: str
    """The ``<detail>`` children as XML text (for protobuf: ``xmlDetail`` only)."""
    callsign: str | None
    time_ms: int
    lat: float
    lon: float
    takmessage: object | None = None
    """The ``TakMessage`` takproto decoded, for protobuf messages."""

    def detail_element(self) -> ET.Element:
        """``<detail>`` parsed (for protobuf: the ``xmlDetail`` part wrapped in ``<detail>``)."""
        return ET.fromstring(f"<detail>{self.detail}</detail>")


def _millis(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


def decode(raw: bytes) -> Message:
    """Decode one complete message: a stream frame with takproto, XML with ElementTree."""
    if raw[0] == FRAME_MAGIC:
        parsed = takproto.parse_proto(bytearray(raw))
        if parsed is None:
            raise ValueError(f"takproto could not parse the frame {raw[:16].hex()}")
        cot = parsed.cotEvent
        detail = cot.detail
        return Message(
            raw=raw,
            protobuf=True,
            uid=cot.uid,
            type=cot.type,
            detail=detail.xmlDetail,
            callsign=detail.contact.callsign if detail.HasField("contact") else None,
            time_ms=cot.sendTime,
            lat=cot.lat,
            lon=cot.lon,
            takmessage=parsed,
        )
    root = ET.fromstring(raw)
    if root.tag != "event":
        raise ValueError(f"not a CoT event: {raw[:80]!r}")
    detail_element = root.find("detail")
    point = root.find("point")
    contact = detail_element.find("contact") if detail_element is not None else None
    children = list(detail_element) if detail_element is not None else []
    return Message(
        raw=raw,
        protobuf=False,
        uid=root.get("uid", ""),
        type=root.get("type", ""),
        detail="".join(ET.tostring(child, encoding="unicode") for child in children),
        callsign=contact.get("callsign") if contact is not None else None,
        time_ms=_millis(root.get("time", "1970-01-01T00:00:00Z")),
        lat=float(point.get("lat", "0")) if point is not None else 0.0,
        lon=float(point.get("lon", "0")) if point is not None else 0.0,
    )


def _varint(buffer: bytearray, position: int) -> tuple[int, int] | None:
    """(value, position after it), or None while the varint is incomplete."""
    value = shift = 0
    while position < len(buffer):
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    return None


def split_stream(buffer: bytearray) -> list[bytes]:
    """Remove every complete message from the front of ``buffer`` and return them.

    Handles the mixed stream a negotiating client sees: XML events (split after
    ``</event>``) until the switch, then ``0xbf <varint length> <payload>`` frames.
    """
    messages: list[bytes] = []
    while True:
        start = 0
        while start < len(buffer) and buffer[start] in b" \t\r\n":
            start += 1
        del buffer[:start]
        if not buffer:
            return messages
        if buffer[0] == FRAME_MAGIC:
            header = _varint(buffer, 1)
            if header is None or header[1] + header[0] > len(buffer):
                return messages
            end = header[1] + header[0]
        else:
            found = buffer.find(EVENT_END)
            if found < 0:
                return messages
            end = found + len(EVENT_END)
        messages.append(bytes(buffer[:end]))
        del buffer[:end]


Predicate = Callable[[Message], bool]


def has_uid(uid: str) -> Predicate:
    """Predicate: the message's uid is ``uid``."""
    return lambda message: message.uid == uid


def has_type(cot_type: str) -> Predicate:
    """Predicate: the message's type is ``cot_type``."""
    return lambda message: message.type == cot_type


class TakClient:
    """A streaming client on a raw asyncio socket: XML until it negotiates, then frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
        self.reader = reader
        self.writer = writer
        self.name = name
        self.sends_protobuf = False
        self.history: list[Message] = []
        """Every message received so far, in order, including the ones ``receive`` skipped."""
        self._pending: deque[bytes] = deque()
        self._buffer = bytearray()

    @classmethod
    async def connect(cls, port: int, name: str = "client") -> "TakClient":
        """Open a TCP connection to the server on 127.0.0.1."""
        reader, writer = await asyncio.open_connection(HOST, port, limit=READ_SIZE)
        return cls(reader, writer, name)

    def __repr__(self) -> str:
        return f"<TakClient {self.name}>"

    # sending

    async def send(self, xml: bytes) -> None:
        """Send one event: as XML, or as a takproto stream frame once negotiated."""
        if self.sends_protobuf:
            await self.send_raw(bytes(takproto.xml2proto(xml, takproto.TAKProtoVer.STREAM)))
        else:
            await self.send_raw(xml)

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are."""
        self.writer.write(data)
        await self.writer.drain()

    # receiving

    async def receive(
        self, predicate: Predicate = lambda _: True, timeout: float = DEFAULT_TIMEOUT
    ) -> Message:
        """The next message for which ``predicate`` holds; the ones before it go to ``history``."""
        async with asyncio.timeout(timeout):
            while True:
                while self._pending:
                    message = decode(self._pending.popleft())
                    self.history.append(message)
                    if predicate(message):
                        return message
                await self._read_more()

    async def receive_until_offer(self, timeout: float = DEFAULT_TIMEOUT) -> list[Message]:
        """What the server sent before its ``t-x-takp-v`` offer: the replay of the current picture."""
        start = len(self.history)
        await self.receive(has_type("t-x-takp-v"), timeout)
        return self.history[start:-1]

    async def skip_until(self, marker: bytes, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Discard messages undecoded up to and including the first whose bytes contain ``marker``.

        Cheap enough for floods; returns how many messages were discarded.
        """
        skipped = 0
        async with asyncio.timeout(timeout):
            while True:
                while self._pending:
                    raw = self._pending.popleft()
                    skipped += 1
                    if marker in raw:
                        return skipped
                await self._read_more()

    def seen(self, predicate: Predicate) -> list[Message]:
        """Messages in ``history`` for which ``predicate`` holds."""
        return [message for message in self.history if predicate(message)]

    async def _read_more(self) -> None:
        chunk = await self.reader.read(READ_SIZE)
        if not chunk:
            raise ConnectionError(f"{self.name}: the server closed the connection")
        self._buffer += chunk
        self._pending.extend(split_stream(self._buffer))

    async def closed_by_server(self, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Read and discard until the server closes the connection; False if it stays open."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(READ_SIZE):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True  # reset: the server aborted the connection
        return True

    # protocol negotiation (reference §2.3)

    async def negotiate(self, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """Answer the server's offer with a request for version 1; from then on, frames only."""
        offers = self.seen(has_type("t-x-takp-v"))
        offer = offers[-1] if offers else await self.receive(has_type("t-x-takp-v"), timeout)
        request = event_xml(offer.uid, "t-x-takp-q", '<TakControl><TakRequest version="1"/></TakControl>')
        await self.send_raw(request)
        response = await self.receive(has_type("t-x-takp-r"), timeout)
        if response.uid != offer.uid or response.protobuf:
            raise AssertionError(f"unexpected negotiation response {response.raw!r}")
        status = response.detail_element().find("TakControl/TakResponse")
        if status is None or status.get("status") != "true":
            raise AssertionError(f"server refused protocol v1: {response.raw!r}")
        self.sends_protobuf = True
        return response

    async def close(self) -> None:
        """Close the socket (idempotent; the server may have closed it already)."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class ClientPool:
    """Connects clients and closes every one of them on exit, whatever the test did."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.clients: list[TakClient] = []

    async def connect(self, name: str, *, negotiate: bool = False) -> TakClient:
        """A new client; with ``negotiate`` it switches to TAK protocol v1 first."""
        client = await TakClient.connect(self.port, name)
        self.clients.append(client)
        if negotiate:
            await client.negotiate()
        return client

    async def __aenter__(self) -> "ClientPool":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for client in self.clients:
            await client.close()


async def sync(sender: TakClient, *receivers: TakClient) -> str:
    """Broadcast a marker from ``sender`` and wait until every receiver has it.

    Afterwards each receiver's ``history`` holds everything ``sender`` sent before the marker.
    """
    uid = f"sync-{next(_serial)}"
    await sender.send(event_xml(uid, SYNC_TYPE, "", stale_s=30))
    for receiver in receivers:
        await receiver.receive(has_uid(uid))
    return uid


eventually = waiting.eventually
"""Poll a condition until it holds (see :mod:`tests.waiting`); many tests import it from here."""
