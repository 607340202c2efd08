"""node-tak's ``Repeater`` (``/Marti/api/repeater/*``) against a real server: an emergency raised
on a stream, listed through node-tak with its TypeBox ``Repeatable`` schema, stopped by its
raiser, and the period read and set."""

from pathlib import Path

from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.test_marti_api import tls_settings
from tests.integration.test_stream_attacks import alert_xml
from tests.interop.clients import eventually
from tests.interop.node_tak import call_all, requires_node_tak

pytestmark = requires_node_tak
__all__ = ["tls_settings"]


async def test_repeater_with_node_tak(tls_server: RunningServer, pki: PkiFixture, tmp_path: Path) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    board = tls_server.server.context.router.alerts
    alice, eve = pki.add_user("alice", "admin", "ops"), pki.add_user("eve", "other")
    async with TlsClients(tls_server, pki) as clients:
        device = await clients.connect(alice)
        await device.send(alert_xml("ALICE", "Alice"))
        await eventually(lambda: len(board) == 1)
        outsider = await call_all(
            api,
            pki,
            eve,
            [
                {"name": "list", "call": "Repeater.list"},
                {"name": "set", "call": "Repeater.period", "args": ["5000"]},
            ],
            tmp_path / "e",
        )
        calls = [
            {"name": "list", "call": "Repeater.list", "schema": "lib/api/repeater#TAKList_Repeater"},
            # node-tak hands its argument to fetch as the body: a number is refused by undici
            # before sending, so the bare integer goes as its text, as TAK Server reads it.
            {"name": "set", "call": "Repeater.period", "args": ["4000"]},
            {"name": "period", "call": "Repeater.period"},
            {"name": "delete", "call": "Repeater.delete", "args": ["ALICE-9-1-1"]},
            {"name": "after", "call": "Repeater.list"},
        ]
        done = await call_all(api, pki, alice, calls, tmp_path / "a")
    assert outsider["list"]["value"]["data"] == []
    assert outsider["set"]["status"] == 403, "a non-administrator cannot set the period"
    assert done["list"]["schemaErrors"] == [], done["list"]
    assert [row["uid"] for row in done["list"]["value"]["data"]] == ["ALICE-9-1-1"]
    assert done["set"]["ok"], done["set"]
    assert done["period"]["value"]["data"] == 4000
    assert done["delete"]["ok"], done["delete"]
    assert done["after"]["value"]["data"] == []
    assert len(board) == 0
