"""External mission data (TAK Server's ``…/missions/{name}/externaldata``, issue 14) over mutual
TLS: saved, listed, logged as changes subscribers hear, copied with the mission and removed;
another group's caller gets 404, a read-only subscriber 403, a request TAK refuses 400."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.tak_missions import PREFIX, Callers, api_settings, only, open_callers
from tests.interop.clients import eventually, has_type, pli_xml

DATA = {
    "uid": "ext-1",
    "name": "Flood model",
    "tool": "hydro",
    "urlData": "https://hydro.example/runs/7",
    "urlView": "https://hydro.example/view/7",
    "notes": "first run",
}


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path)


@pytest.fixture
async def callers(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    async with open_callers(tls_server, pki) as opened:
        await opened.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"})
        yield opened


def changes(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return [row for row in response.json()["data"] if "externalData" in row]


async def test_external_data_is_saved_announced_copied_and_removed(callers: Callers) -> None:
    cp = callers.cp
    async with TlsClients(callers.server, callers.pki) as streams:
        device = await streams.connect(callers.pki.add_user("alpha2", "ops"))
        await device.send(pli_xml("ALPHA-2", "Alpha"))
        registry = callers.server.server.context.router.registry
        await eventually(lambda: registry.by_uid("ALPHA-2") is not None)
        await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-2"})
        saved = await cp.post(f"{PREFIX}/op/externaldata", params={"creatorUid": "CP-1"}, json=DATA)
        assert saved.status_code == 201, saved.text
        assert saved.json()["data"] == DATA
        heard = await device.receive(has_type("t-x-m-c"))
        assert "<externalData><uid>ext-1</uid>" in heard.detail
        notice = await cp.post(
            f"{PREFIX}/op/externaldata/ext-1/change",
            params={"creatorUid": "CP-1", "notes": "second run"},
            content=b"run-8",
        )
        assert notice.status_code == 200
        second = await device.receive(lambda m: m.type == "t-x-m-c" and "second run" in m.detail)
        assert "<token>run-8</token>" in second.detail
    assert only(await cp.get(f"{PREFIX}/op"))["externalData"] == [DATA]
    logged = changes(await cp.get(f"{PREFIX}/op/changes"))
    assert [(row["type"], row["externalData"]["notes"]) for row in logged] == [
        ("ADD_CONTENT", "first run"),
        ("ADD_CONTENT", "second run"),
    ]
    copied = await cp.put(f"{PREFIX}/op/copy", params={"creatorUid": "CP-1", "copyName": "op-2"})
    assert copied.json()["data"][0]["externalData"] == [DATA]
    removed = await cp.delete(
        f"{PREFIX}/op/externaldata/ext-1", params={"creatorUid": "CP-1", "notes": "done"}
    )
    assert removed.status_code == 200
    assert only(await cp.get(f"{PREFIX}/op"))["externalData"] == []
    assert changes(await cp.get(f"{PREFIX}/op/changes"))[-1]["type"] == "REMOVE_CONTENT"


async def test_external_data_refusals(callers: Callers) -> None:
    cp = callers.cp
    await cp.post(f"{PREFIX}/op/externaldata", params={"creatorUid": "CP-1"}, json=DATA)
    no_uid = await cp.post(f"{PREFIX}/op/externaldata", params={"creatorUid": "CP-1"}, json={"name": "x"})
    not_text = await cp.post(
        f"{PREFIX}/op/externaldata", params={"creatorUid": "CP-1"}, json={**DATA, "urlData": {"a": 1}}
    )
    no_creator = await cp.post(f"{PREFIX}/op/externaldata", json=DATA)
    no_notes = await cp.delete(f"{PREFIX}/op/externaldata/ext-1", params={"creatorUid": "CP-1"})
    unknown = await cp.delete(f"{PREFIX}/op/externaldata/nope", params={"creatorUid": "CP-1", "notes": "x"})
    unknown_change = await cp.post(
        f"{PREFIX}/op/externaldata/nope/change", params={"creatorUid": "CP-1", "notes": "x"}, content=b"t"
    )
    assert [r.status_code for r in (no_uid, not_text, no_creator, no_notes, unknown, unknown_change)] == [
        400,
        400,
        400,
        400,
        404,
        404,
    ]
    hidden = await callers.eve.post(f"{PREFIX}/op/externaldata", params={"creatorUid": "E-1"}, json=DATA)
    hidden_delete = await callers.eve.delete(
        f"{PREFIX}/op/externaldata/ext-1", params={"creatorUid": "E-1", "notes": "x"}
    )
    assert (hidden.status_code, hidden_delete.status_code) == (404, 404)
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    await cp.put(
        f"{PREFIX}/op/role",
        params={"clientUid": "ALPHA-1", "role": "MISSION_READONLY_SUBSCRIBER", "creatorUid": "CP-1"},
    )
    readonly = await callers.alpha.delete(
        f"{PREFIX}/op/externaldata/ext-1", params={"creatorUid": "ALPHA-1", "notes": "x"}
    )
    assert readonly.status_code == 403
    assert only(await cp.get(f"{PREFIX}/op"))["externalData"] == [DATA]
