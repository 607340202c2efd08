"""Interop with PyPI ``pytak`` over mutual TLS (issue 3): an independent client streams a PLI on 8089.

pytak is configured the way its documentation says: ``COT_URL=tls://host:port`` with
``PYTAK_TLS_CLIENT_CERT``, ``PYTAK_TLS_CLIENT_KEY`` and ``PYTAK_TLS_CLIENT_CAFILE``. It checks
the server's host name (``check_hostname`` stays on): connecting to 127.0.0.1 works because the
server certificate carries that address as a SAN.
"""

import warnings

import pytest

from rallypoint.transport.stream import StreamConnection
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.interop.clients import has_uid
from tests.interop.pytak_tools import pytak_tls_client

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"The '\w+' package is required", category=UserWarning)
    import pytak


# pytak disables TLS 1.0/1.1 through the deprecated OP_NO_TLSv1* options (its code, not ours).
@pytest.mark.filterwarnings(
    r"ignore:ssl.OP_NO_SSL\*/ssl.OP_NO_TLS\* options are deprecated:DeprecationWarning"
)
async def test_pytak_streams_a_pli_over_mutual_tls(tls_server: RunningServer, pki: PkiFixture) -> None:
    assert tls_server.ports.tls is not None
    sender, receiver = pki.add_user("pytak-gw", "ops"), pki.add_user("viewer", "ops")
    counters = tls_server.server.context.counters
    async with TlsClients(tls_server, pki) as clients:
        viewer = await clients.connect(receiver)
        async with pytak_tls_client(
            tls_server.ports.tls, pki.ca_file, sender.certificate, sender.key
        ) as tool:
            pli = pytak.gen_cot(
                lat=52.52, lon=13.405, uid="PYTAK-TLS", cot_type="a-f-G-U-C", callsign="GW", stale=120
            )
            await tool.tx_queue.put(pli)
            seen = await viewer.receive(has_uid("PYTAK-TLS"))
            connections = [
                c for c in tls_server.server.context.connections if isinstance(c, StreamConnection)
            ]
            identities = {c.subscriber.identity for c in connections if c.subscriber is not None}

    assert (seen.lat, seen.lon, seen.callsign) == (52.52, 13.405, "GW")
    assert "pytak-gw" in identities
    assert counters.get("events_in{transport=tls,format=xml}") == 1
