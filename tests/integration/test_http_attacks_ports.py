"""Connection floods on the web port and the enrollment port (issue 15 item 8): idle
connections from one address are bounded while a bystander from 127.0.0.2 is served."""

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path

import httpx
import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_http_attacks import BYSTANDER_ADDRESS, PER_ADDRESS, close_all, counter, open_idle
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S, eventually

INDEX_HTML = "<!doctype html><title>Rallypoint</title>"


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    ui = tmp_path / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text(INDEX_HTML)
    return listening(
        tmp_path,
        enrollment_port=0,
        web_port=0,
        web_assets_dir=str(ui),
        http_max_connections_per_address=PER_ADDRESS,
    )


async def test_idle_connections_on_the_web_port_leave_room_for_a_login(
    tls_server: RunningServer, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    pki.store.add_user("bystander", "pw-of-bystander", ["ops"])
    assert tls_server.ports.web is not None
    idle = await open_idle(tls_server.ports.web, 120)
    try:
        await eventually(
            lambda: counter(tls_server, "http_refused{port=web,reason=per_address}") >= 120 - PER_ADDRESS
        )
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{tls_server.ports.web}",
            transport=httpx.AsyncHTTPTransport(local_address=BYSTANDER_ADDRESS),
            timeout=EVENT_TIMEOUT_S,
        ) as page:
            login = await page.post(
                "/api/login", json={"username": "bystander", "password": "pw-of-bystander"}
            )
            index = await page.get("/")
    finally:
        close_all(idle)
    assert login.status_code == 200
    assert index.status_code == 200
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert "HTTP port web: connection closed (per_address)" in caplog.text


async def open_tls(port: int, count: int, context: ssl.SSLContext) -> list[asyncio.StreamWriter]:
    """``count`` TLS sessions that complete the handshake and then send nothing."""
    writers = []
    for _ in range(count):
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            _, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=context, server_hostname="localhost", local_addr=("127.0.0.1", 0)
            )
            writers.append(writer)
    return writers


async def test_idle_tls_sessions_on_the_enrollment_port_leave_room_for_an_enrollment(
    tls_server: RunningServer, pki: PkiFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    pki.store.add_user("bystander", "pw-of-bystander", ["ops"])
    port = tls_server.ports.enrollment
    assert port is not None
    context = pki.client_context(None)
    context.check_hostname = False
    idle = await open_tls(port, 3 * PER_ADDRESS, context)
    try:
        name = "http_refused{port=enrollment,reason=per_address}"
        await eventually(lambda: counter(tls_server, name) >= 2 * PER_ADDRESS)
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}",
            transport=httpx.AsyncHTTPTransport(verify=context, local_address=BYSTANDER_ADDRESS),
            auth=("bystander", "pw-of-bystander"),
            timeout=EVENT_TIMEOUT_S,
        ) as client:
            config = await client.get("/Marti/api/tls/config")
    finally:
        for writer in idle:
            writer.close()
    assert config.status_code == 200
    assert config.headers["content-security-policy"].startswith("default-src 'none'")
    assert "HTTP port enrollment: connection closed (per_address)" in caplog.text
