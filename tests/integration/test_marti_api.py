"""The Marti API on a real server (issue 4): HTTPS with client certificates on the API port,
callers filtered by their certificate's groups, events posted over HTTP reaching stream
clients, history from the store, and the operations endpoints."""

import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.errors import ConfigError
from rallypoint.server.server import Server
from tests.conftest import Credentials, PkiFixture, RunningServer, TlsClients
from tests.interop.clients import TakClient, event_xml, eventually, has_uid, pli_xml
from tests.settings import listening
from tests.unit.test_zipcheck import build_zip, data_package
from tests.waiting import EVENT_TIMEOUT_S

TIMEOUT = EVENT_TIMEOUT_S
PROMETHEUS_LINE = re.compile(
    r"^(# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge)"
    r'|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? -?[0-9.e+]+)$'
)
"""One line of the Prometheus text format: a TYPE comment or ``name{label="value",...} number``."""


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    """Streaming TLS for the clients the API lists, and both API ports, all on ephemeral ports."""
    return listening(tmp_path, tls_port=0, api_tls_port=0, api_plain_port=0)


def https(server: RunningServer, pki: PkiFixture, credentials: Credentials | None) -> httpx.AsyncClient:
    """An HTTP client of the API port presenting ``credentials`` (None: no certificate)."""
    assert server.ports.api_tls is not None
    return httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{server.ports.api_tls}",
        verify=pki.client_context(credentials),
        timeout=TIMEOUT,
    )


def plain(server: RunningServer) -> httpx.AsyncClient:
    assert server.ports.api_plain is not None
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.ports.api_plain}", timeout=TIMEOUT)


class Team:
    """Two stream clients in group ``ops`` and one in ``other``, each having sent a position."""

    def __init__(self, alice: TakClient, bob: TakClient, eve: TakClient) -> None:
        self.alice, self.bob, self.eve = alice, bob, eve


@pytest.fixture
async def team(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Team]:
    router = tls_server.server.context.router
    async with TlsClients(tls_server, pki) as clients:
        alice = await clients.connect(pki.add_user("alice", "ops"))
        bob = await clients.connect(pki.add_user("bob", "ops"))
        eve = await clients.connect(pki.add_user("eve", "other"))
        for client, uid, lat in ((alice, "ALICE", 10.0), (bob, "BOB", 20.0), (eve, "EVE", 30.0)):
            await client.send(pli_xml(uid, uid.title(), lat=lat, lon=lat))
        await eventually(lambda: all(router.cache.get(uid) for uid in ("ALICE", "BOB", "EVE")))
        yield Team(alice, bob, eve)


async def test_version_and_config(tls_server: RunningServer, pki: PkiFixture) -> None:
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        version = await client.get("/Marti/api/version")
        config = await client.get("/Marti/api/version/config")
    assert version.status_code == 200
    assert re.fullmatch(r"Rallypoint \S+", version.text)
    body = config.json()
    assert body["type"] == "ServerConfig"
    assert body["version"] == "3"
    assert body["data"] == {
        "version": version.text.split(" ", 1)[1],
        "api": "3",
        "hostname": "127.0.0.1",
    }


async def test_a_client_without_a_certificate_is_refused(tls_server: RunningServer, pki: PkiFixture) -> None:
    counters = tls_server.server.context.counters
    async with https(tls_server, pki, None) as client:
        with pytest.raises(httpx.TransportError):
            await client.get("/Marti/api/version")
    await eventually(lambda: counters.get("api_refused{reason=no_certificate}") == 1)


async def test_a_certificate_not_in_the_identity_store_is_refused(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    pki.store.add_user("mallory", "pw-of-mallory", ["ops"])
    unrecorded = pki.issue("mallory", record=False)
    counters = tls_server.server.context.counters
    async with https(tls_server, pki, unrecorded) as client:
        with pytest.raises(httpx.TransportError):
            await client.get("/Marti/api/version")
    assert counters.get("api_refused{reason=unknown_certificate}") == 1


async def test_client_endpoints_lists_only_clients_of_the_callers_groups(
    tls_server: RunningServer, pki: PkiFixture, team: Team
) -> None:
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as ops_client:
        ops_view = (await ops_client.get("/Marti/api/clientEndPoints")).json()
    async with https(tls_server, pki, pki.add_user("frank", "other")) as other_client:
        other_view = (await other_client.get("/Marti/api/clientEndPoints")).json()

    assert ops_view["type"] == "com.bbn.marti.remote.ClientEndpoint"
    assert [(row["uid"], row["callsign"], row["username"]) for row in ops_view["data"]] == [
        ("ALICE", "Alice", "alice"),
        ("BOB", "Bob", "bob"),
    ]
    alice = ops_view["data"][0]
    assert alice["team"] == "Cyan"
    assert alice["role"] == "Team Member"
    assert alice["lastStatus"] == "Connected"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,3}Z", alice["lastEventTime"])
    assert [row["uid"] for row in other_view["data"]] == ["EVE"]


async def test_groups_all_lists_the_callers_groups(tls_server: RunningServer, pki: PkiFixture) -> None:
    async with https(tls_server, pki, pki.add_user("carol", "ops", "logistics")) as client:
        body = (await client.get("/Marti/api/groups/all", params={"useCache": "true"})).json()
    assert sorted((row["name"], row["direction"]) for row in body["data"]) == [
        ("logistics", "IN"),
        ("logistics", "OUT"),
        ("ops", "IN"),
        ("ops", "OUT"),
    ]


async def test_latest_event_of_a_uid_only_when_visible(
    tls_server: RunningServer, pki: PkiFixture, team: Team
) -> None:
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        visible = await client.get("/Marti/api/cot/xml/ALICE")
        hidden = await client.get("/Marti/api/cot/xml/EVE")
        missing = await client.get("/Marti/api/cot/xml/NOBODY")
        situation = await client.get("/Marti/api/cot/sa")
    assert visible.status_code == 200
    assert visible.headers["content-type"].startswith("application/xml")
    assert b'uid="ALICE"' in visible.content
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["status"] == 404
    assert situation.status_code == 200
    assert situation.text.count("<event ") == 2
    assert 'uid="ALICE"' in situation.text
    assert 'uid="BOB"' in situation.text


async def test_a_posted_event_reaches_stream_clients_of_the_callers_groups(
    tls_server: RunningServer, pki: PkiFixture, team: Team
) -> None:
    marker = event_xml("REST-MARKER", "a-h-G", "", lat=1.0, lon=2.0)
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        posted = await client.post("/Marti/api/cot", content=marker)
        injected = await client.post(
            "/Marti/api/injectors/cot/uid",
            json={"uid": "carol-device", "toInject": event_xml("REST-INJECTED", "a-h-G", "").decode()},
        )
    assert posted.status_code == 200
    assert posted.json() == {"uid": "REST-MARKER", "type": "a-h-G", "delivered": 2}
    assert injected.json()["delivered"] == 2
    for client in (team.alice, team.bob):
        seen = await client.receive(has_uid("REST-MARKER"))
        assert (seen.lat, seen.lon) == (1.0, 2.0)
        await client.receive(has_uid("REST-INJECTED"))
    async with https(tls_server, pki, pki.add_user("frank", "other")) as client:
        await client.post("/Marti/api/cot", content=event_xml("OTHER-MARKER", "a-h-G", ""))
    await team.eve.receive(has_uid("OTHER-MARKER"))  # routed after carol's: those would be here by now
    assert not team.eve.seen(has_uid("REST-MARKER"))
    assert not team.eve.seen(has_uid("REST-INJECTED"))


async def test_bad_posts_are_refused_with_a_clear_status(tls_server: RunningServer, pki: PkiFixture) -> None:
    limit = tls_server.server.settings.max_event_bytes
    oversize = event_xml("BIG", "a-h-G", "<remarks>" + "x" * limit + "</remarks>")
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        broken = await client.post("/Marti/api/cot", content=b"<event uid='x'")
        doctype = await client.post("/Marti/api/cot", content=b'<!DOCTYPE x [<!ENTITY a "b">]><event/>')
        too_big = await client.post("/Marti/api/cot", content=oversize)
        not_json = await client.post("/Marti/api/injectors/cot/uid", content=b"{nope")
        no_event = await client.post("/Marti/api/injectors/cot/uid", json={"uid": "x"})
    assert (broken.status_code, doctype.status_code, too_big.status_code) == (400, 400, 413)
    assert (not_json.status_code, no_event.status_code) == (400, 400)
    assert "not a valid CoT event" in broken.json()["error"]


async def test_unknown_endpoints_and_bad_parameters_are_clean_json_errors(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        unknown = await client.get("/Marti/api/no-such-feature", params={"syncSecago": "1"})
        wrong_method = await client.delete("/Marti/api/version")
        bad_time = await client.get("/api/history/events", params={"start": "yesterday"})
        bad_box = await client.get("/api/history/events", params={"bbox": "1,2,3"})
        bad_limit = await client.get("/api/history/events", params={"limit": "0"})
    assert unknown.status_code == 404
    assert unknown.json()["status"] == 404
    assert wrong_method.status_code == 405
    assert [r.status_code for r in (bad_time, bad_box, bad_limit)] == [400, 400, 400]


async def test_history_is_filtered_by_the_callers_groups(
    tls_server: RunningServer, pki: PkiFixture, team: Team
) -> None:
    await team.alice.send(pli_xml("ALICE", "Alice", lat=11.0, lon=11.5))
    router = tls_server.server.context.router
    await eventually(lambda: (entry := router.cache.get("ALICE")) and entry.message.event.point.lat == 11.0)
    store = tls_server.server.context.store
    assert store is not None
    await store.flush()
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        everything = (await client.get("/api/history/events")).json()
        boxed = (await client.get("/api/history/events", params={"bbox": "15,15,25,25"})).json()
        typed = (await client.get("/api/history/events", params={"type": "a-f-G", "uid": "BOB"})).json()
        as_xml = await client.get("/api/history/events", params={"uid": "ALICE", "format": "xml"})
        uid_all = await client.get("/Marti/api/cot/xml/ALICE/all", params={"start": "2000-01-01T00:00:00Z"})
        track = await client.get("/api/history/track/ALICE")
        hidden_track = await client.get("/api/history/track/EVE")

    uids = [event["uid"] for event in everything["events"]]
    assert sorted(set(uids)) == ["ALICE", "BOB"]
    assert uids.count("ALICE") == 2
    assert [event["uid"] for event in boxed["events"]] == ["BOB"]
    assert [event["uid"] for event in typed["events"]] == ["BOB"]
    assert everything["events"][0]["sender"] in ("alice", "bob")
    for response in (as_xml, uid_all):
        assert response.text.count("<event ") == 2
        assert response.text.rstrip().endswith("</events>")
    feature = track.json()
    assert track.headers["content-type"] == "application/geo+json"
    assert feature["geometry"] == {
        "type": "LineString",
        "coordinates": [[10.0, 10.0, 10.0], [11.5, 11.0, 10.0]],
    }
    assert feature["properties"]["uid"] == "ALICE"
    assert len(feature["properties"]["times"]) == 2
    assert hidden_track.status_code == 404


async def test_revoking_a_certificate_refuses_its_next_request(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    carol = pki.add_user("carol", "ops")
    async with https(tls_server, pki, carol) as client:
        assert (await client.get("/Marti/api/version")).status_code == 200
        pki.store.revoke("carol", datetime.now(UTC))
        refused = await client.get("/Marti/api/version")
    assert refused.status_code == 403
    assert "revoked" in refused.json()["error"]


async def test_the_plain_port_serves_anonymous_callers_in_the_anonymous_group(
    tls_server: RunningServer, pki: PkiFixture, team: Team
) -> None:
    plain_stream = await TakClient.connect(tls_server.ports.tcp, "plain")
    try:
        await plain_stream.send(pli_xml("PLAIN", "Plain"))
        router = tls_server.server.context.router
        await eventually(lambda: router.registry.by_uid("PLAIN") is not None)
        async with plain(tls_server) as client:
            groups = (await client.get("/Marti/api/groups/all")).json()
            endpoints = (await client.get("/Marti/api/clientEndPoints")).json()
            posted = await client.post("/Marti/api/cot", content=event_xml("ANON-MARKER", "a-u-G", ""))
        await plain_stream.receive(has_uid("ANON-MARKER"))
    finally:
        await plain_stream.close()
    assert {row["name"] for row in groups["data"]} == {"__ANON__"}
    assert [(row["uid"], row["username"]) for row in endpoints["data"]] == [("PLAIN", "")]
    assert posted.json()["delivered"] == 1
    assert not team.alice.seen(has_uid("ANON-MARKER"))


async def test_health_and_metrics(tls_server: RunningServer, pki: PkiFixture, team: Team) -> None:
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        health = await client.get("/health")
        metrics = await client.get("/metrics")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["store"] == "ok"
    assert isinstance(health.json()["store_lag"], int)
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = metrics.text.splitlines()
    assert [line for line in lines if not PROMETHEUS_LINE.match(line)] == []
    assert 'rallypoint_events_in_total{transport="tls",format="xml"} 3' in lines
    assert 'rallypoint_connections{transport="tls"} 3' in lines
    assert "rallypoint_cache_entries 3" in lines
    assert any(line.startswith("rallypoint_store_lag_events ") for line in lines)


async def test_health_is_503_once_the_store_is_closed(tls_server: RunningServer, pki: PkiFixture) -> None:
    context = tls_server.server.context
    store = context.store
    assert store is not None
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        context.store = None  # what Server.stop does before closing it
        try:
            health = await client.get("/health")
            history = await client.get("/api/history/events")
        finally:
            context.store = store
    assert (health.status_code, health.json()["status"]) == (503, "unavailable")
    assert history.status_code == 503


async def test_a_busy_api_port_fails_the_start(tls_settings: Settings, pki: PkiFixture) -> None:
    first = Server(tls_settings)
    ports = await first.start()
    try:
        second = Server(Settings(**{**tls_settings.__dict__, "api_tls_port": ports.api_tls}))
        with pytest.raises(ConfigError, match="cannot listen for the Marti API"):
            await second.start()
        await second.stop()
    finally:
        await first.stop()


async def test_a_data_package_round_trip_on_the_api_port(
    tls_server: RunningServer, pki: PkiFixture, team: Team
) -> None:
    """The package routes as the server mounts them: real store, real stream announcement."""
    data = build_zip(data_package())
    sha = hashlib.sha256(data).hexdigest()
    files = {"assetfile": ("plan.zip", data, "application/x-zip-compressed")}
    query = {"filename": "plan.zip", "creatorUid": "carol-device", "tool": "public"}
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        uploaded = await client.post("/Marti/sync/missionupload", params=query, files=files)
        found = await client.get("/Marti/sync/missionquery", params={"hash": sha})
        downloaded = await client.get("/Marti/sync/content", params={"hash": sha})
    async with https(tls_server, pki, pki.add_user("frank", "other")) as outsider:
        hidden = await outsider.get("/Marti/sync/content", params={"hash": sha})
    assert uploaded.status_code == 200
    assert found.status_code == 200
    assert downloaded.content == data
    assert hidden.status_code == 404
    offer = await team.alice.receive(lambda message: message.type == "b-f-t-r")
    assert f'sha256="{sha}"' in offer.detail
    assert f"https://127.0.0.1:{tls_server.ports.api_tls}/Marti/sync/content?hash={sha}" in offer.detail


async def test_contacts_all_and_device_profile(
    tls_server: RunningServer, pki: PkiFixture, team: Team
) -> None:
    async with https(tls_server, pki, pki.add_user("carol", "ops")) as client:
        contacts = await client.get("/Marti/api/contacts/all")
        profile = await client.get("/Marti/api/device/profile/connection", params={"clientUid": "X"})
    assert [(row["uid"], row["callsign"], row["filterGroups"]) for row in contacts.json()] == [
        ("ALICE", "Alice", ["ops"]),
        ("BOB", "Bob", ["ops"]),
    ]
    assert profile.status_code == 204


async def test_a_device_narrows_its_active_groups(tls_server: RunningServer, pki: PkiFixture) -> None:
    router = tls_server.server.context.router
    dora = pki.add_user("dora", "ops", "logistics")
    async with TlsClients(tls_server, pki) as clients:
        device = await clients.connect(dora)
        ops_sender = await clients.connect(pki.add_user("olga", "ops"))
        logistics_sender = await clients.connect(pki.add_user("liam", "logistics"))
        await device.send(pli_xml("DORA", "Dora"))
        await ops_sender.send(pli_xml("OLGA", "Olga"))
        await eventually(lambda: router.registry.by_uid("DORA") and router.registry.by_uid("OLGA"))
        active = [
            {"name": "ops", "direction": "IN", "active": True},
            {"name": "ops", "direction": "OUT", "active": True},
            {"name": "logistics", "direction": "OUT", "active": False},
            {"name": "admins", "direction": "OUT", "active": True},  # not hers: ignored
        ]
        async with https(tls_server, pki, dora) as client:
            refused = await client.put("/Marti/api/groups/active", params={"clientUid": "OLGA"}, json=active)
            changed = await client.put("/Marti/api/groups/active", params={"clientUid": "DORA"}, json=active)
            malformed = await client.put(
                "/Marti/api/groups/active", params={"clientUid": "DORA"}, content=b"{not json"
            )
        assert (refused.status_code, changed.status_code, malformed.status_code) == (404, 200, 400)
        subscriber = router.registry.by_uid("DORA")
        assert subscriber is not None
        assert subscriber.out_groups == frozenset({"ops"})
        await logistics_sender.send(event_xml("from-logistics", "a-f-G", stale_s=60))
        await ops_sender.send(event_xml("from-ops", "a-f-G", stale_s=60))
        await device.receive(has_uid("from-ops"))
        assert not device.seen(has_uid("from-logistics"))
