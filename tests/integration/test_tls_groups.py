"""Groups and anti-spoofing over mutual TLS (issue 3, items 3 and 4), end to end.

Negative checks do not sleep: a receiver that should get nothing pings the server and waits
for its pong. Anything routed to it before would have been written before that pong, since a
connection's queued messages leave in order at the end of the loop turn they were routed in.
"""

from datetime import UTC, datetime

import pytest

from rallypoint.config import Settings
from rallypoint.pki.audit import verify_audit_log
from rallypoint.server.server import Server
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.interop.clients import (
    ClientPool,
    TakClient,
    chat_xml,
    delete_xml,
    event_xml,
    eventually,
    has_type,
    has_uid,
    marker_xml,
    ping_xml,
    pli_xml,
)


async def settle(client: TakClient) -> list[str]:
    """Ping and wait for the pong; return the uids of everything the client received so far."""
    await client.send(ping_xml(client.name))
    await client.receive(has_type("t-x-c-t-r"))
    return [message.uid for message in client.history]


def _audit_entries(pki: PkiFixture, kind: str) -> list[str]:
    path = pki.data_dir / "audit.log"
    assert verify_audit_log(path).ok
    return [line for line in path.read_text().splitlines() if f'"kind":"{kind}"' in line]


def _replayed(client: TakClient) -> list[str]:
    """What the server replayed to a client that just connected (before its offer)."""
    return [message.uid for message in client.history if message.type != "t-x-takp-v"]


async def test_nothing_crosses_a_group_boundary(tls_server: RunningServer, pki: PkiFixture) -> None:
    alice, bob, carol = (
        pki.add_user("alice", "red"),
        pki.add_user("bob", "red"),
        pki.add_user("carol", "blue"),
    )
    late_red, late_blue = pki.add_user("rex", "red"), pki.add_user("bea", "blue")
    counters = tls_server.server.context.counters
    async with TlsClients(tls_server, pki) as clients:
        a, b, c = await clients.connect(alice), await clients.connect(bob), await clients.connect(carol)
        await c.send(pli_xml("CAROL-1", "CHARLIE"))
        await a.send(pli_xml("ALICE-1", "ALPHA"))
        await a.send(marker_xml("MARKER-1", "ALICE-1"))
        await b.receive(has_uid("MARKER-1"))
        # Directed to a connected member of the other group: not delivered, the sender is told.
        await a.send(chat_xml("ALICE-1", "ALPHA", "psst", to_callsign="CHARLIE"))
        bounce = await a.receive(has_type("b-t-f-s"))
        # Late joiners get the replay of their own groups only.
        r = await clients.connect(late_red)
        e = await clients.connect(late_blue)
        red_replay, blue_replay = _replayed(r), _replayed(e)
        carol_saw, bea_saw = await settle(c), await settle(e)
        assert "CAROL-1" not in await settle(b)

    assert bounce.uid.startswith("GeoChat.ALICE-1.")
    assert not {"ALICE-1", "MARKER-1"} & set(carol_saw)
    assert not [uid for uid in carol_saw if uid.startswith("GeoChat.")]
    assert set(red_replay) == {"ALICE-1", "MARKER-1"}
    assert blue_replay == ["CAROL-1"]
    assert "ALICE-1" not in bea_saw
    assert counters.get("group_denied") == 1
    (entry,) = _audit_entries(pki, "group_denied")
    assert '"identity":"alice"' in entry
    assert '"other":"carol"' in entry


async def test_writing_group_names_into_events_changes_nothing(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice, carol = pki.add_user("alice", "red"), pki.add_user("carol", "blue")
    counters = tls_server.server.context.counters
    async with TlsClients(tls_server, pki) as clients:
        a, c = await clients.connect(alice), await clients.connect(carol)
        team_blue = (
            '<contact callsign="ALPHA" endpoint="*:-1:stcp"/><__group name="blue" role="Team Member"/>'
        )
        await a.send(event_xml("ALICE-1", "a-f-G-U-C", team_blue))
        await a.send(event_xml("ALICE-2", "a-f-G-U-C", '<marti><dest group="blue"/></marti>'))
        await eventually(lambda: counters.get("dropped{reason=illegal_group}") == 1)
        carol_saw = await settle(c)

    assert not {"ALICE-1", "ALICE-2"} & set(carol_saw)
    assert len(_audit_entries(pki, "group_denied")) == 1


async def test_group_changes_apply_to_connected_clients(tls_server: RunningServer, pki: PkiFixture) -> None:
    alice, carol = pki.add_user("alice", "red"), pki.add_user("carol", "blue")
    async with TlsClients(tls_server, pki) as clients:
        a, c = await clients.connect(alice), await clients.connect(carol)
        await a.send(pli_xml("ALICE-1", "ALPHA", lat=3.0))
        assert "ALICE-1" not in await settle(c)
        pki.store.set_groups("carol", ["blue", "red"])
        replayed = await c.receive(has_uid("ALICE-1"))  # the picture it can now see
        await a.send(pli_xml("ALICE-1", "ALPHA", lat=4.0))
        live = await c.receive(has_uid("ALICE-1"))

    assert (replayed.lat, live.lat) == (3.0, 4.0)


async def test_an_identity_cannot_pose_as_another(
    tls_server: RunningServer, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob, rex = pki.add_user("alice", "red"), pki.add_user("bob", "red"), pki.add_user("rex", "red")
    counters = tls_server.server.context.counters
    async with TlsClients(tls_server, pki) as clients:
        a, b = await clients.connect(alice), await clients.connect(bob)
        await a.send(pli_xml("ALICE-1", "ALPHA", lat=10.0))
        await b.receive(has_uid("ALICE-1"))
        await b.send(pli_xml("ALICE-1", "ALPHA", lat=20.0))  # alice's uid
        await b.send(pli_xml("BOB-1", "alpha", lat=30.0))  # alice's callsign
        await b.send(delete_xml("ALICE-1"))  # removing alice from the map
        await eventually(lambda: counters.get("spoofing_refused") == 3)
        alice_saw = await settle(a)
        late = await clients.connect(rex)
        # Reconnecting does not lose ownership: bob still cannot take the uid.
        await a.close()
        await b.send(pli_xml("ALICE-1", "ALPHA", lat=40.0))
        await eventually(lambda: counters.get("spoofing_refused") == 4)

    assert "BOB-1" not in alice_saw
    replay = [message for message in late.history if message.type != "t-x-takp-v"]
    assert [(message.uid, message.lat) for message in replay] == [("ALICE-1", 10.0)]
    warnings = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("from bob" in line and "belongs to alice" in line for line in warnings)
    entries = _audit_entries(pki, "spoofing_refused")
    assert len(entries) == 3  # the repeat of the same attempt is counted, not re-audited
    assert all('"identity":"bob"' in entry and '"other":"alice"' in entry for entry in entries)


async def test_anonymous_clients_cannot_overwrite_an_identitys_position(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice = pki.add_user("alice", "red")
    counters = tls_server.server.context.counters
    async with TlsClients(tls_server, pki) as clients, ClientPool(tls_server.ports.tcp) as plain:
        a = await clients.connect(alice)
        await a.send(pli_xml("ALICE-1", "ALPHA", lat=10.0))
        await eventually(lambda: "ALICE-1" in tls_server.server.context.router.cache)
        anonymous = await plain.connect("anonymous")
        await anonymous.send(pli_xml("ALICE-1", "ALPHA", lat=20.0))
        await eventually(lambda: counters.get("spoofing_refused") == 1)
        entry = tls_server.server.context.router.cache.get("ALICE-1")
        assert entry is not None
        assert entry.message.event.point.lat == 10.0


@pytest.mark.parametrize("enforced", [False, True])
async def test_anti_spoofing_on_the_plain_port_is_a_setting(
    server_settings: Settings, enforced: bool
) -> None:
    server = Server(Settings(**{**server_settings.__dict__, "anti_spoofing_plain": enforced}))
    ports = await server.start()
    try:
        async with ClientPool(ports.tcp) as pool:
            first, second, watcher = await pool.connect("1"), await pool.connect("2"), await pool.connect("w")
            await first.send(pli_xml("DEVICE-1", "ONE", lat=1.0))
            await watcher.receive(has_uid("DEVICE-1"))
            await second.send(pli_xml("DEVICE-1", "ONE", lat=2.0))
            await second.send(pli_xml("DEVICE-2", "TWO", lat=3.0))
            await watcher.receive(has_uid("DEVICE-2"))
            # The connection is the owner: once it is gone, the uid is free again.
            await first.close()
            await eventually(lambda: len(server.context.connections) == 2)
            await second.send(pli_xml("DEVICE-1", "ONE", lat=4.0))
            last = await watcher.receive(has_uid("DEVICE-1"))
    finally:
        await server.stop()

    reused = [message.lat for message in watcher.seen(has_uid("DEVICE-1"))]
    assert reused == ([1.0, 4.0] if enforced else [1.0, 2.0, 4.0])
    assert last.lat == 4.0
    assert server.context.counters.get("spoofing_refused") == (1 if enforced else 0)


async def test_a_revoked_owner_keeps_its_uids(tls_server: RunningServer, pki: PkiFixture) -> None:
    """Cutting an identity off does not hand its uids to whoever asks next."""
    alice, bob = pki.add_user("alice", "red"), pki.add_user("bob", "red")
    counters = tls_server.server.context.counters
    async with TlsClients(tls_server, pki) as clients:
        a, b = await clients.connect(alice), await clients.connect(bob)
        await a.send(pli_xml("ALICE-1", "ALPHA"))
        await b.receive(has_uid("ALICE-1"))
        pki.store.revoke("alice", datetime.now(UTC))
        assert await a.closed_by_server()
        await b.send(pli_xml("ALICE-1", "ALPHA"))
        await eventually(lambda: counters.get("spoofing_refused") == 1)
