"""ATAK's and TAK Server's paged mission listing (``/Marti/api/pagedmissions``, ``missioncount``)
with TAK's parameters, over mutual TLS: pages from 0, sorting, filters, and another group's
missions never listed nor counted."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.integration.tak_missions import (
    NODE_TAK_MISSION,
    PREFIX,
    Callers,
    api_settings,
    conforms,
    open_callers,
)

PAGED = "/Marti/api/pagedmissions"
COUNT = "/Marti/api/missioncount"


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path)


@pytest.fixture
async def callers(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    async with open_callers(tls_server, pki) as opened:
        yield opened


async def _names(callers: Callers, **params: str) -> list[str]:
    answer = await callers.cp.get(PAGED, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "Mission"
    for mission in answer.json()["data"]:
        conforms(mission, NODE_TAK_MISSION)
    return [mission["name"] for mission in answer.json()["data"]]


async def test_pages_sorts_filters_and_counts_only_the_callers_missions(callers: Callers) -> None:
    for name, uid in [("delta", "CP-2"), ("alpha-op", "CP-1"), ("charlie", "CP-1"), ("bravo-op", "CP-2")]:
        created = await callers.cp.put(f"{PREFIX}/{name}", params={"creatorUid": uid, "group": "ops"})
        assert created.status_code == 201
    hidden = await callers.eve.put(f"{PREFIX}/secret-op", params={"creatorUid": "E-1", "group": "other"})
    assert hidden.status_code == 201

    assert await _names(callers) == ["alpha-op", "bravo-op", "charlie", "delta"]
    assert await _names(callers, page="0", pagesize="3") == ["alpha-op", "bravo-op", "charlie"]
    assert await _names(callers, page="1", pagesize="3") == ["delta"]
    assert await _names(callers, page="2", pagesize="3") == []
    assert await _names(callers, ascending="false", pagesize="2") == ["delta", "charlie"]
    assert await _names(callers, sort="creatorUid") == ["alpha-op", "charlie", "bravo-op", "delta"]
    assert await _names(callers, nameFilter="-OP") == ["alpha-op", "bravo-op"]
    assert await _names(callers, uidFilter="cp-2") == ["bravo-op", "delta"]
    assert await _names(callers, nameFilter="secret") == [], "another group's mission is never listed"

    count = await callers.cp.get(COUNT)
    assert count.json()["data"] == 4
    assert (await callers.eve.get(COUNT)).json()["data"] == 1, "each caller counts only its own"
    eve_pages = await callers.eve.get(PAGED, params={"pagesize": "100"})
    assert [m["name"] for m in eve_pages.json()["data"]] == ["secret-op"]


@pytest.mark.parametrize(
    "params",
    [
        {"page": "-1"},
        {"page": "x"},
        {"pagesize": "0"},
        {"pagesize": "1001"},
        {"sort": "password"},
        {"ascending": "maybe"},
        {"passwordProtected": "1"},
    ],
)
async def test_bad_paging_parameters_are_refused(callers: Callers, params: dict[str, str]) -> None:
    assert (await callers.cp.get(PAGED, params=params)).status_code == 400
