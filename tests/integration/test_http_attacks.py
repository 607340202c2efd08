"""The HTTP side of the adversarial run (issue 15), each attack against a real server.

Every test performs one attack on the Marti API ports (8443 with client certificates, 8080
plain) while a bystander, connecting from another loopback address (127.0.0.2) so that
per-address bounds cannot shelter it, is served; each asserts the refusal, the log line,
the counter and the bystander's success.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.http.common.query import MAX_JSON_DEPTH
from rallypoint.http.common.zipcheck import MANIFEST_ENTRY
from rallypoint.server import api
from rallypoint.server.server import Server
from tests.conftest import Credentials, PkiFixture, RunningServer
from tests.settings import listening
from tests.unit.test_zipcheck import build_zip, data_package, manifest
from tests.waiting import EVENT_TIMEOUT_S, eventually

BYSTANDER_ADDRESS = "127.0.0.2"
PER_ADDRESS = 16
"""The per-address bound in these tests (the default is 64): small enough to exceed cheaply."""


def attack_settings(tmp_path: Path) -> Settings:
    """Both API ports on ephemeral ports, nothing else, and a low per-address bound."""
    return listening(tmp_path, api_tls_port=0, api_plain_port=0, http_max_connections_per_address=PER_ADDRESS)


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return attack_settings(tmp_path)


def https(
    server: RunningServer, pki: PkiFixture, credentials: Credentials, source: str = "127.0.0.1"
) -> httpx.AsyncClient:
    assert server.ports.api_tls is not None
    context = pki.client_context(credentials)
    return httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{server.ports.api_tls}",
        transport=httpx.AsyncHTTPTransport(verify=context, local_address=source),
        timeout=EVENT_TIMEOUT_S,
    )


def plain(server: RunningServer, source: str = "127.0.0.1") -> httpx.AsyncClient:
    assert server.ports.api_plain is not None
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.ports.api_plain}",
        transport=httpx.AsyncHTTPTransport(local_address=source),
        timeout=EVENT_TIMEOUT_S,
    )


@contextlib.asynccontextmanager
async def bystander(server: RunningServer, pki: PkiFixture) -> AsyncIterator[httpx.AsyncClient]:
    """An ordinary certificate user of group ``ops`` calling from 127.0.0.2."""
    async with https(server, pki, pki.add_user("bystander", "ops"), BYSTANDER_ADDRESS) as client:
        yield client


async def served(client: httpx.AsyncClient) -> bool:
    response = await client.get("/Marti/api/version")
    return response.status_code == 200 and response.text.startswith("Rallypoint")


def counter(server: RunningServer, name: str) -> int:
    return server.server.context.counters.get(name)


# Item 2: zip slip through /Marti/sync/upload


async def test_a_traversal_zip_on_sync_upload_is_refused_and_not_listed(
    tls_server: RunningServer, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    evil = build_zip({**data_package(), "../../evil.sh": b"#!/bin/sh\n", "C:/win.ini": b"x"})
    async with (
        https(tls_server, pki, pki.add_user("mallory", "ops")) as attacker,
        bystander(tls_server, pki) as good,
    ):
        answer = await attacker.post("/Marti/sync/upload", params={"name": "evil.zip"}, content=evil)
        listed = await good.get("/Marti/sync/search", params={"keywords": ""})
        ok = await good.post(
            "/Marti/sync/upload", params={"name": "fine.zip"}, content=build_zip(data_package())
        )
    assert answer.status_code == 400
    assert answer.text.startswith("unsafe_name")
    assert "upload refused (unsafe_name) from mallory" in caplog.text
    assert counter(tls_server, "upload_refused{reason=unsafe_name}") == 1
    assert listed.json()["resultCount"] == 0
    assert ok.status_code == 200


async def test_a_zip_hidden_behind_junk_is_still_checked(tls_server: RunningServer, pki: PkiFixture) -> None:
    evil = b"GIF89a not really a picture" + build_zip({"../evil.sh": b"#!/bin/sh\n"})
    async with https(tls_server, pki, pki.add_user("mallory", "ops")) as attacker:
        answer = await attacker.post("/Marti/sync/upload", params={"name": "cat.gif"}, content=evil)
    assert answer.status_code == 400
    assert counter(tls_server, "upload_refused{reason=unsafe_name}") == 1


# Item 15: a bomb made of many entries each under the per-entry ratio floor


async def test_a_bomb_of_many_small_entries_is_refused(
    tls_server: RunningServer, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    entries = {f"e{index}/zeros.bin": bytes(900_000) for index in range(20)}
    bomb = build_zip({MANIFEST_ENTRY: manifest(list(entries)), **entries})
    assert len(bomb) < 100_000  # 18 MB of zeros in a few tens of kB
    async with (
        https(tls_server, pki, pki.add_user("mallory", "ops")) as attacker,
        bystander(tls_server, pki) as good,
    ):
        files = {"assetfile": ("bomb.zip", bomb, "application/zip")}
        answer = await attacker.post(
            "/Marti/sync/missionupload", params={"filename": "bomb.zip"}, files=files
        )
        assert await served(good)
    assert answer.status_code == 400
    assert answer.text.startswith("compression_ratio")
    assert "upload refused (compression_ratio)" in caplog.text
    assert counter(tls_server, "upload_refused{reason=compression_ratio}") == 1


# Item 3: stored XSS and header injection through a file name


async def test_an_html_upload_comes_back_as_an_inert_attachment(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    page = b"<html><script>alert(document.cookie)</script></html>"
    name = 'x"\r\nSet-Cookie: stolen=1\r\n.html'
    async with (
        https(tls_server, pki, pki.add_user("mallory", "ops")) as attacker,
        bystander(tls_server, pki) as victim,
    ):
        stored = await attacker.post(
            "/Marti/sync/upload", params={"name": name}, content=page, headers={"Content-Type": "text/html"}
        )
        assert stored.status_code == 200
        download = await victim.get("/Marti/sync/content", params={"hash": stored.json()["Hash"]})
        partial = await victim.get(
            "/Marti/sync/content", params={"hash": stored.json()["Hash"], "offset": "0", "length": "6"}
        )
    for response in (download, partial):
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment; ")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]
        assert "set-cookie" not in response.headers
    assert download.content == page


async def test_every_api_answer_carries_the_strict_policy(tls_server: RunningServer) -> None:
    async with plain(tls_server) as client:
        missing = await client.get("/no/such/page")
        version = await client.get("/Marti/api/version")
    for response in (missing, version):
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-content-type-options"] == "nosniff"


# Item 7: deeply nested JSON


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/Marti/api/missions/deep"),
        ("POST", "/Marti/api/missions/logs/entries"),
        ("POST", "/Marti/api/injectors/cot/uid"),
    ],
)
async def test_deeply_nested_json_is_a_400_and_the_port_keeps_serving(
    tls_server: RunningServer,
    pki: PkiFixture,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
) -> None:
    caplog.set_level(logging.INFO)
    deep = b"[" * 5000 + b"]" * 5000
    async with plain(tls_server) as attacker, bystander(tls_server, pki) as good:
        answer = await attacker.request(
            method, path, content=deep, headers={"Content-Type": "application/json"}
        )
        assert await served(good)
    assert answer.status_code == 400
    assert f"nests deeper than {MAX_JSON_DEPTH}" in answer.json()["error"]
    assert counter(tls_server, "http_refused{port=api,reason=status_400}") == 1
    assert "refused: 400" in caplog.text


async def test_nested_mission_and_keyword_bodies_are_refused(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    deep = b'{"a":' * 100 + b"1" + b"}" * 100
    async with https(tls_server, pki, pki.add_user("mallory", "ops")) as attacker:
        created = await attacker.put("/Marti/api/missions/deep", content=deep)
        stored = await attacker.post("/Marti/sync/upload", params={"name": "n.txt"}, content=b"text")
        keywords = await attacker.put(
            f"/Marti/api/sync/metadata/{stored.json()['Hash']}/keywords", content=b"[" * 900 + b"]" * 900
        )
    assert (created.status_code, keywords.status_code) == (400, 400)
    assert counter(tls_server, "http_refused{port=api,reason=status_400}") == 2


# Item 8: connection exhaustion


async def open_idle(port: int, count: int, source: str = "127.0.0.1") -> list[socket.socket]:
    """``count`` TCP connections that never send a byte (connected, not yet accepted maybe)."""
    loop = asyncio.get_running_loop()
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((source, 0))
        await loop.sock_connect(sock, ("127.0.0.1", port))
        sockets.append(sock)
    return sockets


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


async def test_idle_connections_from_one_address_do_not_lock_out_others(
    tls_server: RunningServer, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert tls_server.ports.api_plain is not None
    assert tls_server.ports.api_tls is not None
    idle = await open_idle(tls_server.ports.api_plain, 300)
    half_open = await open_idle(tls_server.ports.api_tls, 200)
    try:
        plain_refused = "http_refused{port=api_plain,reason=per_address}"
        tls_refused = "http_refused{port=api_tls,reason=per_address}"
        await eventually(lambda: counter(tls_server, plain_refused) >= 300 - PER_ADDRESS)
        await eventually(lambda: counter(tls_server, tls_refused) >= 200 - PER_ADDRESS)
        async with bystander(tls_server, pki) as good, plain(tls_server, BYSTANDER_ADDRESS) as anonymous:
            assert await served(good)
            assert await served(anonymous)
    finally:
        close_all(idle + half_open)
    assert "HTTP port api_plain: connection closed (per_address)" in caplog.text
    assert "HTTP port api_tls: connection closed (per_address)" in caplog.text
    assert caplog.text.count("connection closed (per_address)") == 2  # one line per minute, not 484


@pytest.fixture
def quick_timeout_settings(tls_settings: Settings) -> Settings:
    return Settings(**{**tls_settings.__dict__, "http_request_timeout_s": 0.5})


async def test_a_connection_that_sends_no_request_is_closed(
    quick_timeout_settings: Settings, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    server = Server(quick_timeout_settings)
    ports = await server.start()
    try:
        assert ports.api_plain is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", ports.api_plain)
        writer.write(b"GET /Marti/api/version HTTP/1.1\r\nHost: x\r\n")  # a head never finished
        await writer.drain()
        closed = await asyncio.wait_for(reader.read(), EVENT_TIMEOUT_S)
        writer.close()
        running = RunningServer(server, ports)
        async with plain(running, BYSTANDER_ADDRESS) as good:
            assert await served(good)
    finally:
        await server.stop()
    assert closed == b""
    assert server.context.counters.get("http_refused{port=api_plain,reason=request_timeout}") == 1
    assert "connection closed (request_timeout)" in caplog.text


async def test_a_full_port_makes_room_for_a_new_client(
    tls_settings: Settings, pki: PkiFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "MAX_HTTP_CONNECTIONS", 40)
    server = Server(tls_settings)
    ports = await server.start()
    assert ports.api_plain is not None
    idle: list[socket.socket] = []
    try:
        for source in ("127.0.0.3", "127.0.0.4", "127.0.0.5"):
            idle += await open_idle(ports.api_plain, PER_ADDRESS, source)
        counters = server.context.counters
        await eventually(lambda: counters.get("http_refused{port=api_plain,reason=evicted}") >= 9)
        async with plain(RunningServer(server, ports), BYSTANDER_ADDRESS) as good:
            assert await served(good)
    finally:
        close_all(idle)
        await server.stop()


# Item 4: the same bytes from another group


async def test_uploading_another_groups_bytes_reveals_and_takes_nothing(
    tls_server: RunningServer, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = b"grid 38SMB4484 at 0400" * 100
    alice_credentials = pki.add_user("alice", "red")
    async with (
        https(tls_server, pki, alice_credentials, BYSTANDER_ADDRESS) as alice,
        https(tls_server, pki, pki.add_user("mallory", "blue")) as mallory,
    ):
        stored = await alice.post("/Marti/sync/upload", params={"name": "plan.txt"}, content=secret)
        sha = stored.json()["Hash"]
        copied = await mallory.post("/Marti/sync/upload", params={"name": "copy.txt"}, content=secret)
        mallory_sees = (await mallory.get("/Marti/sync/search")).json()["results"]
        deleted = await mallory.delete("/Marti/sync/delete", params={"hash": sha})
        after = await alice.get("/Marti/sync/content", params={"hash": sha})
        alice_sees = (await alice.get("/Marti/sync/search")).json()["results"]
        gone_for_mallory = await mallory.get("/Marti/sync/content", params={"hash": sha})
    assert (copied.status_code, copied.json()["Groups"], copied.json()["SubmissionUser"]) == (
        200,
        ["blue"],
        "mallory",
    )
    assert [(row["Groups"], row["SubmissionUser"], row["Name"]) for row in mallory_sees] == [
        (["blue"], "mallory", "copy.txt")
    ]
    assert deleted.status_code == 200  # mallory deleted her own record, nothing else
    assert f"package {sha} (copy.txt) deleted by mallory" in caplog.text
    assert (after.status_code, after.content) == (200, secret)
    assert [(row["Groups"], row["SubmissionUser"], row["Name"]) for row in alice_sees] == [
        (["red"], "alice", "plan.txt")
    ]
    assert gone_for_mallory.status_code == 404
