"""Interop with PyPI ``pytak``'s Marti REST client (issue 4) on the API ports.

pytak 7.6 talks to the Marti API through two workers made from ``COT_URL=marti://host:port``
(mutual TLS with the ``PYTAK_TLS_*`` settings) or ``marti+http://host:port`` (plain):
``MartiTXWorker`` posts each event as ``{"uid", "toInject"}`` to
``/Marti/api/injectors/cot/uid``, and ``MartiRXWorker`` polls ``/Marti/api/cot/sa?start=&end=``
and takes every ``<event>`` out of the answer. pytak has no call for the version or the
contact list, so those are fetched with aiohttp (pytak's HTTP library) using the TLS context
pytak's own ``get_ssl_ctx`` builds from the same settings.
"""

import asyncio
import warnings
from collections.abc import AsyncIterator
from configparser import ConfigParser, SectionProxy
from pathlib import Path

import aiohttp
import pytest

from rallypoint.config import Settings
from tests.conftest import Credentials, PkiFixture, RunningServer, TlsClients
from tests.interop.clients import TakClient, eventually, has_uid, pli_xml
from tests.settings import listening

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"The '\w+' package is required", category=UserWarning)
    import pytak

pytestmark = pytest.mark.filterwarnings(
    r"ignore:ssl.OP_NO_SSL\*/ssl.OP_NO_TLS\* options are deprecated:DeprecationWarning"
)
"""pytak disables TLS 1.0/1.1 through the deprecated OP_NO_TLSv1* options (its code, not ours)."""


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, tls_port=0, api_tls_port=0, api_plain_port=0)


def marti_config(
    url: str, pki: PkiFixture | None = None, credentials: Credentials | None = None
) -> SectionProxy:
    """pytak settings for its Marti workers, as its documentation describes them."""
    parser = ConfigParser(interpolation=None)
    values = {"COT_URL": url, "MARTI_COT_UID": "pytak-marti"}
    if pki is not None and credentials is not None:
        values |= {
            "PYTAK_TLS_CLIENT_CERT": str(credentials.certificate),
            "PYTAK_TLS_CLIENT_KEY": str(credentials.key),
            "PYTAK_TLS_CLIENT_CAFILE": str(pki.ca_file),
        }
    parser["pytak"] = values
    return parser["pytak"]


@pytest.fixture
async def viewer(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[TakClient]:
    """A stream client in group ``ops`` that has sent its position."""
    async with TlsClients(tls_server, pki) as clients:
        client = await clients.connect(pki.add_user("viewer", "ops"))
        await client.send(pli_xml("VIEWER", "Viewer", lat=48.0, lon=11.0))
        router = tls_server.server.context.router
        await eventually(lambda: router.cache.get("VIEWER") is not None)
        yield client


async def test_pytak_marti_workers_over_mutual_tls(
    tls_server: RunningServer, pki: PkiFixture, viewer: TakClient
) -> None:
    config = marti_config(
        f"marti://127.0.0.1:{tls_server.ports.api_tls}", pki, pki.add_user("gateway", "ops")
    )
    tx = await pytak.marti_txworker_factory(asyncio.Queue(), config)
    rx_queue: asyncio.Queue[bytes] = asyncio.Queue()
    rx = await pytak.marti_rxworker_factory(rx_queue, config)
    try:
        pli = pytak.gen_cot(
            lat=52.52, lon=13.405, uid="PYTAK-MARTI", cot_type="a-f-G-U-C", callsign="GW", stale=120
        )
        await tx.handle_data(pli)
        seen = await viewer.receive(has_uid("PYTAK-MARTI"))
        await rx.run_once()
        polled = [rx_queue.get_nowait() for _ in range(rx_queue.qsize())]
    finally:
        await tx.close()
        await rx.close()
    assert (seen.lat, seen.lon, seen.callsign) == (52.52, 13.405, "GW")
    assert sorted(b'uid="VIEWER"' in event or b'uid="PYTAK-MARTI"' in event for event in polled) == [
        True,
        True,
    ]


async def test_version_and_contacts_with_pytaks_tls_context(
    tls_server: RunningServer, pki: PkiFixture, viewer: TakClient
) -> None:
    config = marti_config("marti://127.0.0.1", pki, pki.add_user("gateway", "ops"))
    ssl_context = pytak.client_functions.get_ssl_ctx(config)
    base = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context)) as session:
        async with session.get(f"{base}/Marti/api/version") as response:
            version = await response.text()
        async with session.get(f"{base}/Marti/api/clientEndPoints") as response:
            contacts = await response.json()
    assert version.startswith("Rallypoint ")
    assert [(row["uid"], row["username"]) for row in contacts["data"]] == [("VIEWER", "viewer")]


async def test_pytak_marti_tx_over_plain_http_is_anonymous(
    tls_server: RunningServer, viewer: TakClient
) -> None:
    plain_client = await TakClient.connect(tls_server.ports.tcp, "plain")
    tx = await pytak.marti_txworker_factory(
        asyncio.Queue(), marti_config(f"marti+http://127.0.0.1:{tls_server.ports.api_plain}")
    )
    try:
        await tx.handle_data(pytak.gen_cot(uid="PYTAK-PLAIN", cot_type="a-u-G", stale=120))
        await plain_client.receive(has_uid("PYTAK-PLAIN"))
    finally:
        await tx.close()
        await plain_client.close()
    assert not viewer.seen(has_uid("PYTAK-PLAIN"))
