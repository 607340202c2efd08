"""One icon per real-world object on a TAK client, end to end: a team aboard a vessel sends its
own PLI while the vessel's AIS positions (aliased to the team) reach the server through an AIS
gateway pushing GeoJSON over HTTP. A raw-socket
TAK client watching the whole run sees the team's relayed PLI as the vessel's one icon, never
a fused copy beside it, and a vessel without a team as one fused icon; no identity switches."""

import itertools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from rallypoint.server.server import Server
from tests.interop.clients import ClientPool, Message, TakClient, pli_xml, sync
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S, eventually

ROUNDS = 8
DECK_MMSI, OTHER_MMSI = 211000001, 211000002
DECK_START, OTHER_START = (49.47, 0.13), (49.49, 0.13)
"""The team's vessel and a vessel without a team, 2.2 km apart."""
STEP_DEG = 2e-6
"""Each round (a second of AIS time) both vessels move about 0.2 m north, as they report."""
SPEED_M_S = 0.2
PLI_OFFSET_DEG = 3e-5
"""The team's phone is about 3 m from where the vessel's AIS antenna is."""
SAME_OBJECT_M = 50.0
"""An icon this close to an object is that object on the map (duplicates were 1-5 m apart)."""


def vessel(mmsi: int, lat: float, lon: float, time_ms: int) -> dict[str, Any]:
    """A vessel's position as an AIS gateway pushes it: its MMSI, AIS time, course and speed."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "identity": f"mmsi:{mmsi}",
            "time": time_ms,
            "course": 0.0,
            "speed": SPEED_M_S,
            "domain": "sea",
            "sigma_m": 10.0,
        },
    }


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (a[0] - b[0]) * 111_320.0
    east = (a[1] - b[1]) * 111_320.0 * math.cos(math.radians(a[0]))
    return math.hypot(north, east)


@dataclass
class MapView:
    """The icons a TAK client shows, replayed from every event it received, in order."""

    icons: dict[str, tuple[float, float]] = field(default_factory=dict)
    shown: dict[str, list[str]] = field(default_factory=dict)
    """object → the uid of its icon after each event (``""``: none yet)."""

    def apply(self, message: Message) -> None:
        element = message.detail_element()
        if message.type == "t-x-d-d":
            for link in element.iter("link"):
                self.icons.pop(link.get("uid", ""), None)
        elif message.type.startswith("a-"):
            self.icons[message.uid] = (message.lat, message.lon)

    def near(self, where: tuple[float, float]) -> list[str]:
        return sorted(uid for uid, at in self.icons.items() if metres(at, where) <= SAME_OBJECT_M)

    def sample(self, name: str, where: tuple[float, float]) -> list[str]:
        icons = self.near(where)
        self.shown.setdefault(name, []).append(icons[0] if len(icons) == 1 else ",".join(icons))
        return icons

    def id_switches(self, name: str) -> int:
        shown = [uid for uid in self.shown[name] if uid]
        return sum(1 for before, after in itertools.pairwise(shown) if before != after)


def positions(start: tuple[float, float], offset: float = 0.0) -> Iterator[tuple[float, float]]:
    for step in range(ROUNDS):
        yield start[0] + step * STEP_DEG + offset, start[1]


async def test_an_aliased_team_shows_once_on_the_client_map(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        f"""
[fusion]
min_emit_interval_s = 0.2

[fusion.aliases]
"mmsi:{DECK_MMSI}" = "uid:Deck-1"

[[feeds]]
name = "ais-harbour"
kind = "geojson"
affiliation = "f"
"""
    )
    settings = listening(tmp_path, api_plain_port=0, feeds_file=str(feeds))
    server = Server(settings)
    ports = await server.start()
    try:
        async with ClientPool(ports.tcp) as pool:
            watcher = await pool.connect("watcher")
            team = await pool.connect("deck-1")
            base = f"http://127.0.0.1:{ports.api_plain}"
            async with httpx.AsyncClient(base_url=base, timeout=EVENT_TIMEOUT_S) as api:
                await _run(api, watcher, team)
    finally:
        await server.stop()


async def _run(api: httpx.AsyncClient, watcher: TakClient, team: TakClient) -> None:
    view = MapView()
    first_ms = time.time_ns() // 1_000_000 - 10_000  # AIS times in order, in the recent past
    deck_path = list(positions(DECK_START))
    other_path = list(positions(OTHER_START))
    for step, (deck, other) in enumerate(zip(deck_path, other_path, strict=True)):
        team_at = (deck[0] + PLI_OFFSET_DEG, deck[1])
        await team.send(pli_xml("Deck-1", "DECK 1", lat=team_at[0], lon=team_at[1]))
        at_ms = first_ms + step * 1000
        features = [vessel(DECK_MMSI, *deck, at_ms), vessel(OTHER_MMSI, *other, at_ms)]
        pushed = await api.post(
            "/api/feeds/ais-harbour/geojson", json={"type": "FeatureCollection", "features": features}
        )
        assert pushed.json()["data"] == {"accepted": 2, "rejected": []}
        await eventually(lambda n=step + 1: _ais_counts(api, n), what=f"AIS round {step + 1} fused")
        await sync(team, watcher)  # everything sent so far has reached the watcher
        for message in watcher.history[len(view.shown.get("deck", [])) :]:
            view.apply(message)
            view.sample("deck", deck)
            view.sample("other", other)

    deck_icons = {uid for uid in view.shown["deck"] if uid}
    other_icons = {uid for uid in view.shown["other"] if uid}
    assert deck_icons == {"Deck-1"}  # the team's own PLI, never a fused copy beside it
    assert len(other_icons) == 1
    (other_uid,) = other_icons
    assert other_uid.startswith("fused-")
    assert (view.id_switches("deck"), view.id_switches("other")) == (0, 0)
    fused = [m for m in watcher.history if m.uid.startswith("fused-") and m.type.startswith("a-")]
    assert fused
    assert {m.uid for m in fused} == {other_uid}
    await _check_provenance(api)


async def _tracks(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await api.get("/api/tracks")).json()["data"]
    return data


async def _ais_counts(api: httpx.AsyncClient, expected: int) -> bool:
    counts = {}
    for track in await _tracks(api):
        for source in track["sources"]:
            if source["name"] == "ais-harbour":
                counts[source["identity"]] = source["count"]
    return counts.get(f"mmsi:{DECK_MMSI}") == counts.get(f"mmsi:{OTHER_MMSI}") == expected


async def _check_provenance(api: httpx.AsyncClient) -> None:
    (deck,) = [t for t in await _tracks(api) if "uid:Deck-1" in t["identities"]]
    assert f"mmsi:{DECK_MMSI}" in deck["identities"]
    assert {s["name"] for s in deck["sources"]} == {"ais-harbour", "pli"}
    assert deck["callsign"] == "DECK 1"
