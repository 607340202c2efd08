"""``store_url = "off"``: the server routes as usual and keeps nothing (benchmarks, relays)."""

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx

from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.conftest import read_until
from tests.interop.clients import pli_xml


async def test_a_server_without_store_routes_and_writes_no_database(server_settings: Settings) -> None:
    settings = replace(server_settings, store_url="off", api_plain_port=0)
    server = Server(settings)
    ports = await server.start()
    try:
        assert server.context.store is None
        reader, writer = await asyncio.open_connection("127.0.0.1", ports.tcp)
        await read_until(reader, lambda data: b"t-x-takp-v" in data)  # attached: it will be sent to
        _, sender = await asyncio.open_connection("127.0.0.1", ports.tcp)
        writer.write(pli_xml("ANDROID-listener", "Listener"))
        await writer.drain()
        sender.write(pli_xml("ANDROID-sender", "Sender"))
        await sender.drain()
        await read_until(reader, lambda data: b'uid="ANDROID-sender"' in data)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.api_plain}") as client:
            response = await client.get("/Marti/api/cot/xml/ANDROID-sender/all")
        assert response.status_code == 503
        for stream in (writer, sender):
            stream.close()
    finally:
        await server.stop()
    assert not _databases(settings.data_dir)


def _databases(directory: Path) -> list[Path]:
    return list(directory.glob("*.sqlite3"))
