"""Each feed kind as a session: its decoder joined to its transport.

:func:`session_for` is the one place that knows which decoder reads which connection.
GeoJSON has no session: it is pushed to the API, which calls :class:`PushFeed`.
"""

from collections.abc import Awaitable, Callable

from rallypoint.cot.protobuf import proto_to_event
from rallypoint.cot.stream import FrameKind, StreamDecoder
from rallypoint.cot.xml import XmlLimits
from rallypoint.errors import FeedDown, ProtocolError
from rallypoint.fusion.feeds.adsb import AircraftJsonDecoder, SbsDecoder
from rallypoint.fusion.feeds.ais import AisDecoder
from rallypoint.fusion.feeds.aprs import AprsDecoder, login_line
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.cot import CotDecoder, event_report
from rallypoint.fusion.feeds.decoded import Decoded, error
from rallypoint.fusion.feeds.geojson import GeoJsonDecoder
from rallypoint.fusion.feeds.modes import AvrDecoder
from rallypoint.fusion.feeds.transports import (
    FeedLink,
    connect,
    datagram_lines,
    datagram_whole,
    poll_http,
    read_chunk,
    read_lines,
    receive_datagrams,
)

Session = Callable[[FeedLink], Awaitable[None]]
"""Run one connection of a feed until it fails (raises FeedDown)."""


def session_for(feed: FeedConfig, limits: XmlLimits) -> Session | None:
    """The session that runs ``feed``; None for push feeds (GeoJSON)."""
    kind = feed.kind
    if kind == "adsb_json":
        json_decoder = AircraftJsonDecoder(feed)
        return lambda link: poll_http(link, json_decoder.decode)
    if kind in {"sbs", "avr", "ais_tcp"}:
        line_decoder: SbsDecoder | AvrDecoder | AisDecoder = (
            SbsDecoder(feed) if kind == "sbs" else AvrDecoder(feed) if kind == "avr" else AisDecoder(feed)
        )
        return lambda link: read_lines(link, line_decoder.decode)
    if kind == "aprs_is":
        aprs = AprsDecoder(feed)
        return lambda link: read_lines(link, aprs.decode, login=login_line(feed.login, feed.aprs_filter))
    if kind == "ais_udp":
        ais = AisDecoder(feed)
        return lambda link: receive_datagrams(link, datagram_lines(link, ais.decode))
    if kind == "cot_udp":
        cot = CotDecoder(feed, limits)
        return lambda link: receive_datagrams(link, datagram_whole(link, cot.decode))
    if kind == "cot_tcp":
        return lambda link: read_cot_stream(link, limits)
    return None


async def read_cot_stream(link: FeedLink, limits: XmlLimits) -> None:
    """Read a gateway's CoT stream (XML, or TAK protocol v1 frames) until it fails."""
    feed = link.feed
    reader, writer = await connect(feed)
    decoder = CotDecoder(feed, limits)
    stream = StreamDecoder(limits.max_event_bytes, limits.max_event_bytes)
    try:
        link.health.connected()
        while True:
            chunk = await read_chunk(reader)
            now = link.now_ms()
            for frame in stream.feed(chunk):
                if frame.kind is FrameKind.XML:
                    link.deliver(decoder.decode(frame.payload, now), now)
                elif frame.kind is FrameKind.PROTOBUF:
                    link.deliver(_protobuf(frame.payload, feed, limits, now), now)
            if stream.error is not None:
                link.health.error(stream.error.reason)
                raise FeedDown(f"broken CoT stream: {stream.error}", reason="protocol")
    finally:
        writer.close()


def _protobuf(payload: bytes, feed: FeedConfig, limits: XmlLimits, now: int) -> Decoded:
    try:
        event = proto_to_event(payload, limits)
    except ProtocolError as exc:
        return error(exc.reason)
    if event is None:
        return error("invalid_event")
    return event_report(event, feed.name, "cot", feed.sigma_m, now)


class PushFeed:
    """A feed whose data is pushed to us (GeoJSON over HTTP POST): decode on arrival."""

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed
        self.decoder = GeoJsonDecoder(feed)

    def decode(self, body: bytes, received_ms: int) -> Decoded:
        """One pushed document."""
        return self.decoder.decode(body, received_ms)
