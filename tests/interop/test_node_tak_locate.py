"""TAK's locate API (``POST /locate/api``): node-tak's ``Locate.generate`` over mutual TLS and an
anonymous form post on the plain port both become markers in the configured group only; bad
input, floods and a server with the service off are refused."""

from pathlib import Path

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.test_marti_api import plain
from tests.interop.clients import TakClient
from tests.interop.node_tak import call_all, requires_node_tak
from tests.settings import listening
from tests.web.test_web_drawings import nothing_more

MAX_PER_MINUTE = 14


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(
        tmp_path,
        tls_port=0,
        api_tls_port=0,
        api_plain_port=0,
        locate_enabled=True,
        locate_group="ops",
        locate_max_per_minute=MAX_PER_MINUTE,
    )


async def _located(client: TakClient, callsign: str) -> str:
    message = await client.receive(lambda m: m.type == "a-f-G" and m.callsign == callsign)
    return message.detail


@requires_node_tak
async def test_locate_with_node_tak_reaches_the_configured_group_only(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    reporter, watcher, outsider = (
        pki.add_user("rita", "other"),
        pki.add_user("wes", "ops"),
        pki.add_user("olga", "x"),
    )
    query = {"latitude": 51.5, "longitude": -0.12, "name": "Hiker & <friend>", "remarks": "ankle, need help"}
    async with TlsClients(tls_server, pki) as clients, plain(tls_server) as anonymous:
        ops, other = await clients.connect(watcher), await clients.connect(outsider)
        seen_before = len(other.history)
        done = await call_all(
            api, pki, reporter, [{"name": "locate", "call": "Locate.generate", "args": [query]}], tmp_path
        )
        assert done["locate"]["ok"], done
        detail = await _located(ops, "Hiker & <friend> (rita)")
        form = {"latitude": "-33.9", "longitude": "18.4", "name": "Walker", "remarks": ""}
        assert (await anonymous.post("/locate/api", data=form)).status_code == 200
        await _located(ops, "Walker")
        assert await nothing_more(other, seen_before) == [], "another group sees no located marker"

        bad = [
            {"latitude": "91", "longitude": "0", "name": "a", "remarks": ""},
            {"latitude": "nan", "longitude": "0", "name": "a", "remarks": ""},
            {"latitude": "1", "longitude": "inf", "name": "a", "remarks": ""},
            {"latitude": "x", "longitude": "0", "name": "a", "remarks": ""},
            {"latitude": "1", "longitude": "0", "remarks": ""},
            {"latitude": "1", "longitude": "0", "name": "a"},
            {"latitude": "1", "longitude": "0", "name": " ", "remarks": ""},
            {"latitude": "1", "longitude": "0", "name": "a\x07b", "remarks": ""},
            {"latitude": "1", "longitude": "0", "name": "a" * 65, "remarks": ""},
            {"latitude": "1", "longitude": "0", "name": "a", "remarks": "r" * 1025},
        ]
        statuses = [(await anonymous.post("/locate/api", params=q)).status_code for q in bad]
        huge = await anonymous.post(
            "/locate/api", data={"latitude": "1", "longitude": "0", "name": "a", "remarks": "r" * 5000}
        )
        flood = [(await anonymous.post("/locate/api", params=query)).status_code for _ in range(3)]

    assert "<remarks>ankle, need help</remarks>" in detail
    assert 'device="Locator"' in detail
    assert statuses == [400] * len(bad)
    assert huge.status_code == 413
    assert 2 + len(bad) + 1 == MAX_PER_MINUTE - 1, "the flood below starts one post before the limit"
    assert flood == [200, 429, 429]


async def test_locate_is_off_unless_enabled(tmp_path: Path) -> None:
    server = Server(listening(tmp_path, api_plain_port=0))
    ports = await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.api_plain}") as client:
            answer = await client.post(
                "/locate/api", params={"latitude": 1, "longitude": 2, "name": "a", "remarks": ""}
            )
    finally:
        await server.stop()
    assert answer.status_code == 404
    assert "locate_enabled" in answer.json()["error"]
