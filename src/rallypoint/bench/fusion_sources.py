"""Real local feed sources for the end-to-end fusion bench, serving a scenario's reports.

Each scenario receiver becomes what the server's adapters read in the field, on 127.0.0.1
with an ephemeral port:

- an ADS-B receiver (``adsb``) is a readsb: an HTTP server (keep-alive) answering every GET
  with ``aircraft.json``, each aircraft's newest position with ``now`` (ms) and ``seen_pos``
  (0.1 s, as readsb writes it), non-ICAO addresses with readsb's ``~``;
- an AIS shore station (``ais``) is an NMEA TCP server sending ``!AIVDM`` type 1 sentences
  (encoded by pyais) behind a ``\\c:`` tag block with the station's time of reception (the
  UTC-second field says "not available": a scenario fix is not on a whole second, and the
  decoder would date it to the second);
- the APRS-IS server (``aprs``) sends compressed position packets (0.3 m resolution);
- each team (``cot``) is a TAK client on the server's TCP port sending its own PLI.

A report is published at its scenario receive time shifted to the wall clock: that is
when the source has it (the source's own latency is already in it). The publication time of
each report is kept, so the client's receipt of it can be timed from there.
"""

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyais.encode import encode_dict

from rallypoint.cot.timefmt import format_time
from rallypoint.fusion.feeds.units import FOOT_M, KNOT_MS
from rallypoint.fusion.report import Report

HOST = "127.0.0.1"
MAX_AGE_MS = 60_000
"""readsb drops an aircraft from the file a minute after its last message."""
PLI_STALE_MS = 60_000
NACP_BY_SIGMA = ((3.0 / 2.45, 11), (10.0 / 2.45, 10), (30.0 / 2.45, 9), (92.6 / 2.45, 8), (185.2 / 2.45, 7))
"""The best NACp whose 1-sigma bound still covers a report's error (DO-260B EPU / 2.45)."""


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def nac_p(sigma_m: float) -> int:
    """The NACp a transponder with this position error would announce."""
    for bound, category in NACP_BY_SIGMA:
        if sigma_m <= bound:
            return category
    return 6


class Readsb:
    """aircraft.json of one receiver: the newest position of every aircraft it heard."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[Report, int]] = {}
        """hex → (report, its observation time on the wall clock)."""
        self.server: asyncio.Server | None = None
        self.port = 0
        self.polls = 0

    def publish(self, report: Report, time_ms: int) -> None:
        assert report.identity is not None
        namespace, _, digits = report.identity.partition(":")
        key = digits if namespace == "icao" else f"~{digits}"
        known = self.latest.get(key)
        if known is None or known[1] < time_ms:  # readsb keeps the newest fix, a re-sent old one is lost
            self.latest[key] = (report, time_ms)

    def document(self, now_ms: int) -> bytes:
        aircraft = []
        for key, (report, time_ms) in list(self.latest.items()):
            if now_ms - time_ms > MAX_AGE_MS:
                del self.latest[key]
                continue
            entry: dict[str, object] = {
                "hex": key,
                "lat": round(report.lat, 6),
                "lon": round(report.lon, 6),
                "seen_pos": round(max(0, now_ms - time_ms) / 1000, 1),
                "nac_p": nac_p(report.sigma_m),
            }
            if report.callsign:
                entry["flight"] = report.callsign
            if report.hae is not None:
                entry["alt_geom"] = round(report.hae / FOOT_M)
            if report.speed is not None and report.course is not None:
                entry["gs"] = round(report.speed / KNOT_MS, 1)
                entry["track"] = round(report.course, 1)
            if report.climb is not None:
                entry["geom_rate"] = round(report.climb * 60 / FOOT_M)
            aircraft.append(entry)
        return json.dumps({"now": now_ms / 1000, "messages": 0, "aircraft": aircraft}).encode()

    async def start(self) -> "Readsb":
        self.server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/data/aircraft.json"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            while True:  # HTTP/1.1 keep-alive, as lighttpd in front of readsb
                await reader.readuntil(b"\r\n\r\n")
                self.polls += 1
                body = self.document(wall_ms())
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                writer.write(head.encode() + b"\r\n" + body)
                await writer.drain()
        writer.close()


@dataclass
class LineSource:
    """A TCP server that writes each published line to every connected client."""

    server: asyncio.Server | None = None
    port: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> "LineSource":
        self.server = await asyncio.start_server(self._serve, HOST, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):  # an APRS-IS login, or nothing: read until closed
                pass
        self.writers.remove(writer)
        writer.close()

    def send(self, line: bytes) -> None:
        for writer in self.writers:
            writer.write(line)


def nmea_checksum(text: str) -> str:
    value = 0
    for char in text.encode("ascii"):
        value ^= char
    return f"{value:02X}"


def ais_lines(report: Report, time_ms: int) -> bytes:
    """A type 1 position report behind a tag block carrying the station's reception time."""
    assert report.identity is not None
    fields: dict[str, str | int | float | bytes | bool] = {
        "msg_type": 1,
        "mmsi": int(report.identity.removeprefix("mmsi:")),
        "lat": report.lat,
        "lon": report.lon,
        "accuracy": 1,
        "second": 60,  # "not available": the scenario's fixes are not on whole seconds, the tag is
    }
    if report.speed is not None and report.course is not None:
        fields["speed"] = round(report.speed / KNOT_MS, 1)
        fields["course"] = round(report.course, 1)
    tag = f"c:{time_ms}"
    block = f"\\{tag}*{nmea_checksum(tag)}\\"
    sentences = encode_dict(fields, talker_id="AI", sentence_type="VDM")
    return "".join(f"{block}{s}\r\n" for s in sentences).encode("ascii")


def _base91(value: int) -> str:
    digits = []
    for _ in range(4):
        value, digit = divmod(value, 91)
        digits.append(chr(33 + digit))
    return "".join(reversed(digits))


def aprs_line(report: Report) -> bytes:
    """A compressed APRS position (car symbol) with course and speed, as APRS-IS forwards it."""
    assert report.identity is not None
    latitude = _base91(round(380926 * (90 - report.lat)))
    longitude = _base91(round(190463 * (180 + report.lon)))
    extension = "  G"
    if report.speed is not None and report.course is not None:
        course = round(report.course / 4) % 90
        speed = round(math.log(report.speed / KNOT_MS + 1) / math.log(1.08))
        extension = f"{chr(33 + course)}{chr(33 + min(speed, 89))}G"
    call = report.identity.removeprefix("aprs:")
    return f"{call}>APRS,TCPIP*,qAC,T2TEST:!/{latitude}{longitude}>{extension}\r\n".encode("ascii")


def pli_xml(report: Report, time_ms: int) -> bytes:
    """A team's own position report as ATAK sends it (``contact`` with an endpoint)."""
    assert report.identity is not None
    uid = report.identity.removeprefix("uid:")
    stamp, stale = format_time(time_ms), format_time(time_ms + PLI_STALE_MS)
    motion = ""
    if report.speed is not None and report.course is not None:
        motion = f'<track course="{report.course:.1f}" speed="{report.speed:.2f}"/>'
    return (
        f'<event version="2.0" uid="{uid}" type="a-f-G-U-C" how="m-g" time="{stamp}" start="{stamp}"'
        f' stale="{stale}"><point lat="{report.lat:.7f}" lon="{report.lon:.7f}" hae="9999999.0"'
        f' ce="{report.sigma_m:.1f}" le="9999999.0"/><detail><contact callsign="{uid}"'
        f' endpoint="*:-1:stcp"/>{motion}</detail></event>'
    ).encode()


def sources_of(reports: Sequence[Report]) -> dict[str, str]:
    """Scenario receiver name → report kind (``adsb``, ``ais``, ``aprs``, ``cot``)."""
    return {report.source: report.kind for report in reports if report.identity is not None}
