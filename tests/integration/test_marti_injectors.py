"""TAK Server's CoT injectors on a real server over mutual TLS: an administrator's injector is
added to every later event of its uid before routing (so an XML and a protobuf receiver both
see it), is kept across a restart, and stays within the administrator's groups; hostile
requests are refused."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from rallypoint.config import Settings
from rallypoint.router.injection import MAX_PER_UID
from rallypoint.server.server import Server
from tests.conftest import Credentials, PkiFixture, RunningServer, TlsClients
from tests.integration.test_marti_api import https, plain
from tests.interop.clients import Message, has_uid, pli_xml
from tests.settings import listening
from tests.waiting import eventually

PATH = "/Marti/api/injectors/cot/uid"
VIDEO = {"uid": "ANDROID-cam", "toInject": 'remarks source="north gate camera"'}
VIDEO_ELEMENT = '<remarks source="north gate camera"/>'


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, tls_port=0, api_tls_port=0, api_plain_port=0)


def pairs(answer: dict[str, object]) -> list[tuple[str, str]]:
    data = answer["data"]
    assert isinstance(data, list)
    return [(row["uid"], row["toInject"]) for row in data]


def injected(message: Message) -> list[str]:
    return [element.get("source", "") for element in message.detail_element().iter("remarks")]


async def test_an_injector_reaches_every_receiver_of_the_uids_events(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    root = pki.add_user("root", "admin", "ops")
    camera, viewer, watcher = (
        pki.add_user("cam", "ops"),
        pki.add_user("viewer", "ops"),
        pki.add_user("w", "ops"),
    )
    async with https(tls_server, pki, root) as client:
        created = await client.post(PATH, json=VIDEO)
        again = await client.post(PATH, json=VIDEO)
        listed = await client.get(PATH)
        one = await client.get(f"{PATH}/ANDROID-cam")
    async with TlsClients(tls_server, pki) as clients:
        xml_receiver = await clients.connect(viewer)
        protobuf_receiver = await clients.connect(watcher)
        await protobuf_receiver.negotiate()
        sender = await clients.connect(camera)
        await sender.send(pli_xml("ANDROID-cam", "Cam"))
        await sender.send(pli_xml("ANDROID-other", "Other"))
        as_xml = await xml_receiver.receive(has_uid("ANDROID-cam"))
        as_protobuf = await protobuf_receiver.receive(has_uid("ANDROID-cam"))
        untouched = await xml_receiver.receive(has_uid("ANDROID-other"))
        cached = tls_server.server.context.router.cache.get("ANDROID-cam")
    assert created.status_code == 200
    assert created.json()["type"] == "com.bbn.marti.injector.UidCotTagInjector"
    assert (
        pairs(again.json())
        == pairs(listed.json())
        == pairs(one.json())
        == [(VIDEO["uid"], VIDEO["toInject"])]
    )
    assert (as_xml.protobuf, as_protobuf.protobuf) == (False, True)
    assert injected(as_xml) == injected(as_protobuf) == ["north gate camera"]
    assert as_xml.callsign == "Cam", "the rest of the event is as sent"
    assert injected(untouched) == []
    assert cached is not None
    assert VIDEO_ELEMENT.encode() in cached.message.xml, "the cache (and so a late joiner) has it too"


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[RunningServer]:
    server = Server(settings)
    ports = await server.start()
    try:
        yield RunningServer(server, ports)
    finally:
        await server.stop()


async def test_an_injector_survives_a_restart(tls_settings: Settings, pki: PkiFixture) -> None:
    root, camera, viewer = (
        pki.add_user("root", "admin", "ops"),
        pki.add_user("cam", "ops"),
        pki.add_user("v", "ops"),
    )
    async with serving(tls_settings) as first, https(first, pki, root) as client:
        assert (await client.post(PATH, json=VIDEO)).status_code == 200
    async with serving(tls_settings) as second:
        async with https(second, pki, root) as client:
            listed = await client.get(PATH)
        async with TlsClients(second, pki) as clients:
            receiver = await clients.connect(viewer)
            await (await clients.connect(camera)).send(pli_xml("ANDROID-cam", "Cam"))
            seen = await receiver.receive(has_uid("ANDROID-cam"))
        async with https(second, pki, root) as client:
            deleted = await client.delete(PATH, params=VIDEO)
    async with serving(tls_settings) as third, https(third, pki, root) as client:
        after_delete = await client.get(PATH)
    assert pairs(listed.json()) == [(VIDEO["uid"], VIDEO["toInject"])]
    assert injected(seen) == ["north gate camera"]
    assert (deleted.status_code, pairs(deleted.json())) == (200, [])
    assert pairs(after_delete.json()) == [], "a deletion is kept too"


async def test_an_injector_stays_within_its_administrators_groups(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    ops_root, other_root = pki.add_user("root", "admin", "ops"), pki.add_user("boss", "admin", "other")
    eve, eve_friend = pki.add_user("eve", "other"), pki.add_user("friend", "other")
    router = tls_server.server.context.router
    async with https(tls_server, pki, ops_root) as client:
        early = await client.post(PATH, json={"uid": "EVE-1", "toInject": 'remarks source="ops"'})
    async with TlsClients(tls_server, pki) as clients:
        receiver = await clients.connect(eve_friend)
        await (await clients.connect(eve)).send(pli_xml("EVE-1", "Eve"))
        seen = await receiver.receive(has_uid("EVE-1"))
        await eventually(lambda: router.cache.get("EVE-1") is not None)
        async with https(tls_server, pki, ops_root) as client:
            known_elsewhere = await client.post(PATH, json={"uid": "EVE-1", "toInject": 'remarks source="x"'})
    async with https(tls_server, pki, other_root) as client:
        other_list = await client.get(PATH)
        other_delete = await client.delete(PATH, params={"uid": "EVE-1"})
        taken = await client.post(PATH, json={"uid": "EVE-1", "toInject": 'remarks source="ops"'})
    assert early.status_code == 200, "a uid not seen yet may be injected"
    assert injected(seen) == [], "a sender outside the administrator's groups is not injected"
    assert known_elsewhere.status_code == 403
    assert pairs(other_list.json()) == []
    assert other_delete.status_code == 404
    assert taken.status_code == 403


def hostile_bodies() -> list[dict[str, object]]:
    return [
        {"uid": "x<script>", "toInject": "remarks a='1'"},
        {"uid": "x\"'", "toInject": "remarks"},
        {"uid": "", "toInject": "remarks"},
        {"uid": "x" * 300, "toInject": "remarks"},
        {"uid": ["x"], "toInject": "remarks"},
        {"uid": "x", "toInject": ["remarks"]},
        {"uid": "x", "toInject": ""},
        {"uid": "x", "toInject": 'remarks text="unclosed'},
        {"uid": "x", "toInject": "two words here"},
        {"uid": "x", "toInject": "remarks a='1' a='2'"},
        {"uid": "x", "toInject": "remarks text='&xxe;'"},
        {"uid": "x", "toInject": "!DOCTYPE x SYSTEM 'file:///etc/passwd'"},
        {"uid": "x", "toInject": "?xml version='1.0'?"},
        {"uid": "x", "toInject": "remarks></remarks><event uid='spoof'"},
        {"uid": "x", "toInject": "marti"},
        {"uid": "x", "toInject": "contact callsign='Imposter'"},
        {"uid": "x", "toInject": "__group name='Red' role='HQ'"},
        {"uid": "x", "toInject": "remarks text='" + "y" * 2000 + "'"},
    ]


async def test_hostile_injectors_are_refused(tls_server: RunningServer, pki: PkiFixture) -> None:
    root, mallory = pki.add_user("root", "admin", "ops"), pki.add_user("mallory", "ops")
    async with https(tls_server, pki, root) as client:
        statuses = [(await client.post(PATH, json=body)).status_code for body in hostile_bodies()]
        no_uid = await client.delete(PATH)
        bad_delete = await client.delete(PATH, params={"uid": "x", "toInject": "a b"})
        filled = [
            (await client.post(PATH, json={"uid": "busy", "toInject": f"remarks n='{n}'"})).status_code
            for n in range(MAX_PER_UID + 1)
        ]
        kept = await client.get(PATH)
    refusals = await non_admin_answers(tls_server, pki, mallory)
    async with plain(tls_server) as anonymous:
        anonymous_post = await anonymous.post(PATH, json=VIDEO)
        anonymous_list = await anonymous.get(PATH)
    assert statuses == [400] * len(hostile_bodies())
    assert (no_uid.status_code, bad_delete.status_code) == (400, 400)
    assert filled == [200] * MAX_PER_UID + [429]
    assert len(kept.json()["data"]) == MAX_PER_UID
    assert refusals == [403, 403, 403, 403]
    assert (anonymous_post.status_code, anonymous_list.status_code) == (403, 403)


async def non_admin_answers(server: RunningServer, pki: PkiFixture, who: Credentials) -> list[int]:
    async with https(server, pki, who) as client:
        return [
            (await client.post(PATH, json=VIDEO)).status_code,
            (await client.get(PATH)).status_code,
            (await client.get(f"{PATH}/busy")).status_code,
            (await client.delete(PATH, params={"uid": "busy"})).status_code,
        ]
