"""KML exports (issue 14) over mutual TLS: a mission's items (``GET …/missions/{name}/kml``) and
ATAK's track export (``/Marti/ExportMissionKML?startTime=&endTime=&uid=&format=``). Every answer
must parse as KML; another group's tracks and missions stay out of it."""

import io
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from rallypoint.config import Settings
from rallypoint.cot.timefmt import format_time
from rallypoint.store.base import EventQuery
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.tak_missions import PREFIX, Callers, api_settings, open_callers
from tests.interop.clients import eventually, marker_xml, pli_xml

KML = "{http://www.opengis.net/kml/2.2}"
EXPORT = "/Marti/ExportMissionKML"


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path)


@pytest.fixture
async def callers(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    async with open_callers(tls_server, pki) as opened:
        yield opened


def placemarks(document: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(document)
    assert root.tag == f"{KML}kml"
    return {p.get("id", ""): p for p in root.iter(f"{KML}Placemark")}


def text(element: ET.Element, path: str) -> str:
    found = element.find("/".join(part if part == "." else KML + part for part in path.split("/")))
    assert found is not None, path
    assert found.text is not None, path
    return found.text


async def test_track_export_and_mission_kml(callers: Callers) -> None:
    context = callers.server.server.context
    async with TlsClients(callers.server, callers.pki) as streams:
        alpha = await streams.connect(callers.pki.add_user("alpha2", "ops"))
        eve = await streams.connect(callers.pki.add_user("eve2", "other"))
        for step in range(3):
            await alpha.send(pli_xml("ALPHA-2", "Alpha &lt;&amp;&gt; Two", lat=10.0 + step, lon=20.0))
        await eve.send(pli_xml("EVE-2", "Eve", lat=-5.0, lon=-5.0))
        await alpha.send(marker_xml("spot-9", "ALPHA-2"))

        async def stored() -> bool:
            assert context.store is not None
            found = await context.store.query_events(EventQuery(uid="ALPHA-2"))
            eves = await context.store.query_events(EventQuery(uid="EVE-2"))
            return len(found) == 3 and len(eves) == 1 and context.router.cache.get("spot-9") is not None

        await eventually(stored)
    window = {
        "startTime": format_time(int(time.time() * 1000) - 600_000),
        "endTime": format_time(int(time.time() * 1000) + 60_000),
    }
    export = await callers.cp.get(EXPORT, params=window)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/vnd.google-earth.kml+xml")
    found = placemarks(export.content)
    assert "EVE-2" not in found
    assert text(found["ALPHA-2"], "./name") == "Alpha <&> Two"
    assert text(found["ALPHA-2"], "./Point/coordinates") == "20.0000000,12.0000000,10.0"
    line = text(found["ALPHA-2.track"], "./LineString/coordinates").split()
    assert [point.split(",")[1] for point in line] == ["10.0000000", "11.0000000", "12.0000000"]
    kmz = await callers.cp.post(EXPORT, params={**window, "uid": "ALPHA-2", "format": "kmz"})
    with zipfile.ZipFile(io.BytesIO(kmz.content)) as archive:
        assert set(placemarks(archive.read("doc.kml"))) == {"ALPHA-2", "ALPHA-2.track"}
    widened = await callers.cp.get(EXPORT, params={**window, "groups": "other"})
    assert widened.status_code == 403
    eve_export = placemarks((await callers.eve.get(EXPORT, params=window)).content)
    assert set(eve_export) == {"EVE-2"}

    await callers.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"})
    await callers.cp.put(f"{PREFIX}/op/contents", params={"creatorUid": "CP-1"}, json={"uids": ["spot-9"]})
    mission_kml = await callers.cp.get(f"{PREFIX}/op/kml", params={"download": "true"})
    assert mission_kml.status_code == 200
    assert 'filename="op.kml"' in mission_kml.headers["content-disposition"]
    items = placemarks(mission_kml.content)
    assert set(items) == {"spot-9"}
    assert text(items["spot-9"], "./name") == "spot-9"
    assert (await callers.eve.get(f"{PREFIX}/op/kml")).status_code == 404
