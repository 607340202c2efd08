"""``/Marti/vcm`` as ATAK's video tool calls it (XML) beside ``/Marti/api/video`` (JSON), on a
real server over mutual TLS: one book for both, per group, bounded, kept across a restart."""

from pathlib import Path

import pytest

from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_marti_api import https
from tests.settings import listening

VCM = (
    b"<videoConnections><feed><uid>cam-gate</uid><active>true</active><alias>Gate camera</alias>"
    b"<protocol>rtsp</protocol><address>127.0.0.1</address><port>8554</port><path>/gate</path>"
    b"<buffer>500</buffer><timeout>5000</timeout><rtspReliable>1</rtspReliable></feed></videoConnections>"
)


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0)


async def test_vcm_xml_and_json_share_one_group_scoped_book(
    tls_server: RunningServer, pki: PkiFixture, tls_settings: Settings
) -> None:
    alice, bob, mallory = (
        pki.add_user("alice", "ops"),
        pki.add_user("bob", "ops"),
        pki.add_user("mallory", "out"),
    )
    async with https(tls_server, pki, alice) as client:
        posted = await client.post("/Marti/vcm", content=VCM, headers={"content-type": "application/xml"})
    async with https(tls_server, pki, bob) as client:
        listed = await client.get("/Marti/vcm")
        as_json = (await client.get("/Marti/api/video")).json()["videoConnections"]
    async with https(tls_server, pki, mallory) as client:
        hidden = await client.get("/Marti/vcm")
        overwrite = await client.post("/Marti/vcm", content=VCM.replace(b"Gate camera", b"fake"))
        other_group = await client.post(
            "/Marti/api/video", params={"group": "ops"}, json={"videoConnections": []}
        )
    assert posted.status_code == 200
    assert listed.headers["content-type"].startswith("application/xml")
    assert b"<uid>cam-gate</uid>" in listed.content
    assert b"<address>127.0.0.1</address><port>8554</port><path>/gate</path>" in listed.content
    assert [(c["uuid"], c["feeds"][0]["url"], c["feeds"][0]["bufferTime"]) for c in as_json] == [
        ("cam-gate", "rtsp://127.0.0.1:8554/gate", "500")
    ]
    assert hidden.content == b"<videoConnections></videoConnections>"
    assert (overwrite.status_code, other_group.status_code) == (400, 403)

    await tls_server.server.stop()
    again = Server(tls_settings)
    ports = await again.start()
    try:
        async with https(RunningServer(again, ports), pki, bob) as client:
            kept = (await client.get("/Marti/api/video")).json()["videoConnections"]
    finally:
        await again.stop()
    assert [c["alias"] for c in kept] == ["Gate camera"], "feeds survive a restart"


async def test_hostile_video_bodies_are_refused(tls_server: RunningServer, pki: PkiFixture) -> None:
    alice = pki.add_user("alice", "ops")
    many = (
        b"<videoConnections>" + b"<feed><uid>x</uid><address>a</address></feed>" * 40 + b"</videoConnections>"
    )
    doctype = b'<!DOCTYPE v [<!ENTITY e "x">]><videoConnections/>'
    huge_url = {"videoConnections": [{"alias": "a", "feeds": [{"url": "rtsp://" + "a" * 5000}]}]}
    async with https(tls_server, pki, alice) as client:
        answers = [
            (await client.post("/Marti/vcm", content=many)).status_code,
            (await client.post("/Marti/vcm", content=doctype)).status_code,
            (await client.post("/Marti/vcm", content=b"<videoConnections><feed>")).status_code,
            (await client.post("/Marti/api/video", json=huge_url)).status_code,
            (await client.post("/Marti/api/video", content=b"[" * 5000)).status_code,
            (await client.post("/Marti/api/video", content=b"x" * 300_000)).status_code,
            (await client.get("/Marti/api/video")).status_code,
        ]
    assert answers == [400, 400, 400, 400, 400, 413, 200]
