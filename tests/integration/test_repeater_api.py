"""TAK Server's repeater API over the alert board on a real server over mutual TLS: an
emergency raised on a stream is listed to its groups, stopped only by whoever raised it, and
the period is set by an administrator only, within bounds."""

import httpx

from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.test_marti_api import https, tls_settings
from tests.integration.test_stream_attacks import alert_xml
from tests.interop.clients import eventually, pli_xml

__all__ = ["tls_settings"]  # the fixture: streaming TLS and the API port, all ephemeral

ALERT_UID = "ALICE-9-1-1"


async def test_a_raised_alert_is_listed_to_its_groups_and_stopped_by_its_raiser(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    board = tls_server.server.context.router.alerts
    alice, bob, eve = pki.add_user("alice", "ops"), pki.add_user("bob", "ops"), pki.add_user("eve", "other")
    async with TlsClients(tls_server, pki) as clients:
        device = await clients.connect(alice)
        await device.send(pli_xml("ALICE", "Alice"))
        await device.send(alert_xml("ALICE", "Alice"))
        await eventually(lambda: len(board) == 1)
        async with https(tls_server, pki, bob) as client:
            listed = (await client.get("/Marti/api/repeater/list")).json()
            by_member = await client.get(f"/Marti/api/repeater/remove/{ALERT_UID}")
        async with https(tls_server, pki, eve) as client:
            hidden = (await client.get("/Marti/api/repeater/list")).json()
            by_outsider = await client.get(f"/Marti/api/repeater/remove/{ALERT_UID}")
        assert len(board) == 1, "neither stopped it"
        async with https(tls_server, pki, alice) as client:
            by_raiser = await client.get(f"/Marti/api/repeater/remove/{ALERT_UID}")
            after = (await client.get("/Marti/api/repeater/list")).json()
    assert listed["type"] == "com.bbn.marti.remote.Repeatable"
    [row] = listed["data"]
    assert {k: row[k] for k in ("uid", "repeatType", "cotType", "callsign")} == {
        "uid": ALERT_UID,
        "repeatType": "911 Alert",
        "cotType": "b-a-o-tbl",
        "callsign": "Alice",
    }
    assert row["xml"].startswith(f'<event version="2.0" uid="{ALERT_UID}"')
    assert row["dateTimeActivated"].endswith("Z")
    assert (by_member.status_code, by_outsider.status_code) == (403, 404)
    assert hidden["data"] == []
    assert (by_raiser.status_code, by_raiser.json()["data"]) == (200, True)
    assert after["data"] == []
    assert len(board) == 0


async def test_the_period_is_read_and_set_within_bounds(tls_server: RunningServer, pki: PkiFixture) -> None:
    board = tls_server.server.context.router.alerts
    async with https(tls_server, pki, pki.add_user("carol", "admin", "ops")) as client:
        before = (await client.get("/Marti/api/repeater/period")).json()["data"]
        changed = await client.post("/Marti/api/repeater/period", content=b"5000")
        refused = [
            (await client.post("/Marti/api/repeater/period", content=body)).status_code
            for body in (b"10", b"100000", b"true", b'"5000"', b"5000.5", b"[5000]", b"x" * 100, b"")
        ]
        after = (await client.get("/Marti/api/repeater/period")).json()["data"]
    assert before == 3000
    assert changed.json()["data"] == 5000
    assert refused[:7] == [400] * 6 + [413]
    assert refused[7] == 400
    assert after == board.period_ms == 5000


async def test_only_an_administrator_changes_the_period(tls_server: RunningServer, pki: PkiFixture) -> None:
    board = tls_server.server.context.router.alerts
    async with https(tls_server, pki, pki.add_user("dave", "ops")) as client:
        refused = await client.post("/Marti/api/repeater/period", content=b"5000")
        read = await client.get("/Marti/api/repeater/period")
    async with https(tls_server, pki, pki.add_user("root", "admin")) as client:
        accepted = await client.post("/Marti/api/repeater/period", content=b"6000")
    assert refused.status_code == 403
    assert "'admin' group" in refused.json()["error"]
    assert read.json()["data"] == 3000, "reading it is anyone's"
    assert accepted.status_code == 200
    assert board.period_ms == 6000


async def test_an_anonymous_caller_cannot_change_the_period(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    assert tls_server.ports.api_plain is not None
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{tls_server.ports.api_plain}") as client:
        answer = await client.post("/Marti/api/repeater/period", content=b"5000")
        listed = await client.get("/Marti/api/repeater/list")
    assert answer.status_code == 403
    assert listed.json()["data"] == []
