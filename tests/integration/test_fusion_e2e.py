"""End to end: feeds from local test sockets (two fake readsb receivers over HTTP, AIS over UDP,
an APRS-IS TCP server) into a real server; a pytak client sees one fused track per object,
with its provenance (``<__fusion>`` sources and ``<link>`` to a team's PLI)."""

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from rallypoint.server.server import BoundPorts, Server
from rallypoint.transport.context import ServerContext
from tests.fixtures.feeds.fakes import HttpServer, LineServer, free_udp_port, send_udp
from tests.interop.clients import pli_xml
from tests.interop.test_pytak import pytak_client
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S, eventually

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
AIRCRAFT = {"3c6444": (51.47, 7.22, "DLH9LF"), "3c6445": (51.47, 7.2228, "DLH9LG")}
"""Two aircraft 200 m apart (formation), each seen by both receivers."""


@dataclass
class Receiver:
    """A fake readsb: aircraft.json whose positions advance with the wall clock."""

    seen_pos: float
    enabled: bool = False
    server: HttpServer | None = None

    def document(self, path: str) -> bytes:
        now = time.time()
        aircraft = []
        if self.enabled:
            for hex_id, (lat, lon, flight) in AIRCRAFT.items():
                moved = (now % 600) * 0.00001
                aircraft.append(
                    {
                        "hex": hex_id,
                        "flight": flight,
                        "lat": lat + moved,
                        "lon": lon,
                        "alt_geom": 30000,
                        "gs": 400.0,
                        "track": 0.0,
                        "seen_pos": self.seen_pos,
                        "nac_p": 9,
                    }
                )
        return json.dumps({"now": now, "aircraft": aircraft}).encode()


@dataclass
class Picture:
    """Fused events as a pytak client received them, by track uid."""

    latest: dict[str, ET.Element] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def add(self, element: ET.Element) -> None:
        if element.find("detail/__fusion") is not None:
            self.latest[element.get("uid", "")] = element

    def identities(self) -> dict[str, list[str]]:
        """identity -> fused track uids that claim it."""
        owners: dict[str, list[str]] = defaultdict(list)
        for uid, element in self.latest.items():
            fusion = element.find("detail/__fusion")
            assert fusion is not None
            for identity in fusion.get("identities", "").split():
                owners[identity].append(uid)
        return owners

    def sources(self, identity: str) -> set[str]:
        uids = self.identities().get(identity, [])
        if len(uids) != 1:
            return set()
        return {s.get("name", "") for s in self.latest[uids[0]].iter("source")}


@pytest.fixture
async def sources() -> AsyncIterator[tuple[Receiver, Receiver, LineServer]]:
    north, south = Receiver(seen_pos=0.2), Receiver(seen_pos=1.5)
    north.server = await HttpServer(north.document).start()
    south.server = await HttpServer(south.document).start()
    gate = asyncio.Event()
    aprs = await LineServer([(FEEDS / "aprs.txt").read_bytes()], hold_open=True, gate=gate).start()
    try:
        yield north, south, aprs
    finally:
        for server in (north.server, south.server, aprs):
            await server.stop()


def feeds_file(path: Path, north: Receiver, south: Receiver, aprs: LineServer, ais_port: int) -> Path:
    assert north.server is not None
    assert south.server is not None
    path.write_text(
        f"""
[fusion]
min_emit_interval_s = 0.2

[fusion.aliases]
"mmsi:227006760" = "uid:Rescue-3"

[[feeds]]
name = "adsb-north"
kind = "adsb_json"
url = "{north.server.url("/data/aircraft.json")}"
interval_s = 0.2
affiliation = "n"

[[feeds]]
name = "adsb-south"
kind = "adsb_json"
url = "{south.server.url("/data/aircraft.json")}"
interval_s = 0.3

[[feeds]]
name = "ais-harbour"
kind = "ais_udp"
port = {ais_port}
affiliation = "f"

[[feeds]]
name = "aprs"
kind = "aprs_is"
port = {aprs.port}
login = "N0CALL"

[[feeds]]
name = "teams"
kind = "geojson"
"""
    )
    return path


async def test_one_fused_track_per_object_with_provenance(
    tmp_path: Path, sources: tuple[Receiver, Receiver, LineServer]
) -> None:
    north, south, aprs = sources
    ais_port = free_udp_port()
    settings = listening(
        tmp_path,
        api_plain_port=0,
        feeds_file=str(feeds_file(tmp_path / "feeds.toml", north, south, aprs, ais_port)),
    )
    server = Server(settings)
    ports = await server.start()
    try:
        await _scenario(server.context, ports, north, south, aprs, ais_port)
    finally:
        await server.stop()


async def _scenario(
    context: ServerContext,
    ports: BoundPorts,
    north: Receiver,
    south: Receiver,
    aprs: LineServer,
    ais_port: int,
) -> None:
    picture = Picture()
    async with pytak_client(ports.tcp, "fusion-watcher") as watcher:

        async def collect() -> None:
            while True:
                picture.add(ET.fromstring((await watcher.rx_queue.get()).strip()))

        collector = asyncio.create_task(collect())
        _, writer = await asyncio.open_connection("127.0.0.1", ports.tcp)
        _, team = await asyncio.open_connection("127.0.0.1", ports.tcp)
        try:
            writer.write(pli_xml("Rescue-3", "RESCUE 3", lat=49.4756, lon=0.1314))
            await writer.drain()
            team.write(pli_xml("Alpha-1", "ALPHA 1", lat=49.48, lon=0.12))  # a team on PLI only
            await team.drain()
            north.enabled = south.enabled = True
            assert aprs.gate is not None
            aprs.gate.set()
            # AIS last: once the team's PLI is routed (fusion sees it as it is routed; the alias
            # joins the vessel to it) and the feed's socket is bound (a datagram sent before is lost).
            await eventually(lambda: "Rescue-3" in context.router.cache, what="the PLI routed")
            await eventually(lambda: "Alpha-1" in context.router.cache, what="the team's PLI routed")
            counters = context.counters
            await eventually(
                lambda: counters.gauges().get("feed_up{feed=ais-harbour}") == 1, what="AIS bound"
            )
            send_udp(ais_port, *(FEEDS / "ais.nmea").read_bytes().splitlines())
            await eventually(lambda: _complete(picture), what="the fused picture complete")
        finally:
            writer.close()
            team.close()
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)

    owners = picture.identities()
    duplicates = {identity: uids for identity, uids in owners.items() if len(uids) > 1}
    assert duplicates == {}
    assert picture.sources("icao:3c6444") == {"adsb-north", "adsb-south"}
    assert owners["icao:3c6444"] != owners["icao:3c6445"]  # formation: distinct identities stay apart
    # the rescue boat's crew shows itself (its relayed PLI is the boat's one icon): no fused copy
    assert "uid:Rescue-3" not in owners
    assert "mmsi:227006760" not in owners
    aircraft = picture.latest[owners["icao:3c6444"][0]]
    assert aircraft.get("type") == "a-n-A"
    assert len({uid for uids in owners.values() for uid in uids}) == len(picture.latest)
    assert "uid:Alpha-1" not in owners  # its own PLI is its one icon: no fused copy is sent
    await _check_api(ports)


def _complete(picture: Picture) -> bool:
    owners = picture.identities()
    aprs_objects = {"aprs:FROMCALL", "aprs:N0CALL-9", "aprs:LEADER"}
    return (
        picture.sources("icao:3c6444") == {"adsb-north", "adsb-south"}
        and picture.sources("icao:3c6445") == {"adsb-north", "adsb-south"}
        and aprs_objects <= set(owners)
        and sum(1 for identity in owners if identity.startswith("mmsi:")) == 7
    )


async def _check_api(ports: BoundPorts) -> None:
    base = f"http://127.0.0.1:{ports.api_plain}"
    async with httpx.AsyncClient(base_url=base, timeout=EVENT_TIMEOUT_S) as client:
        tracks = (await client.get("/api/tracks")).json()["data"]
        by_identity = defaultdict(list)
        for track in tracks:
            for identity in track["identities"]:
                by_identity[identity].append(track)
        (aircraft,) = by_identity["icao:3c6444"]
        (alpha,) = by_identity["uid:Alpha-1"]  # PLI-only: not sent as CoT, but in the picture
        (rescue,) = by_identity["uid:Rescue-3"]  # aliased: the fused provenance is here
        assert "mmsi:227006760" in rescue["identities"]
        assert {s["name"] for s in rescue["sources"]} == {"ais-harbour", "pli"}
        assert (rescue["domain"], rescue["affiliation"]) == ("sea", "f")
        assert [s["name"] for s in alpha["sources"]] == ["pli"]
        assert alpha["callsign"] == "ALPHA 1"
        assert {s["name"] for s in aircraft["sources"]} == {"adsb-north", "adsb-south"}
        pushed = await client.post(
            "/api/feeds/teams/geojson",
            json={
                "type": "Feature",
                "id": "team-7",
                "geometry": {"type": "Point", "coordinates": [7.0, 51.0]},
                "properties": {"callsign": "Team 7"},
            },
        )
        assert pushed.json()["data"] == {"accepted": 1, "rejected": []}
        missing = await client.post("/api/feeds/nope/geojson", json={"type": "Feature"})
        assert missing.status_code == 404
        alias = await client.put(
            "/api/fusion/aliases", json={"identity": "aprs:LEADER", "target": "uid:Lead"}
        )
        assert alias.json()["data"]["aprs:LEADER"] == "uid:Lead"
        bad = await client.put("/api/fusion/aliases", json={"identity": "nonsense", "target": "uid:x"})
        assert bad.status_code == 400
        feeds = {f["name"]: f for f in (await client.get("/api/feeds")).json()["data"]}
        assert feeds["adsb-north"]["state"] == "up"
        assert feeds["teams"]["reports"] == 1
        metrics = (await client.get("/metrics")).text
        assert 'rallypoint_feed_reports_total{feed="adsb-north"}' in metrics
        assert 'rallypoint_feed_up{feed="aprs"} 1' in metrics
        assert "# TYPE rallypoint_feed_last_report_ms gauge" in metrics
        assert "rallypoint_feed_last_report_ms_total" not in metrics
