"""Every time-like field of the mission, file and group answers in TAK Server's shape (issue 14).

A running server over mutual TLS is given a mission with a file, a map item, a layer, a map
layer, a log entry, an invitation and a copy; then the JSON answers of the Data Sync, file and
group endpoints are walked and every field whose name says it is a time is checked against the
shape TAK Server writes for it (docs/marti-coverage.md, "Time shapes"). A time-like field this
table does not know fails the test, so a new answer cannot slip in epoch milliseconds unseen.
"""

import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.tak_missions import PREFIX, Callers, api_settings, open_callers
from tests.interop.clients import eventually, pli_xml

ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
"""``yyyy-MM-dd'T'HH:mm:ss.SSS'Z'``: TAK's ``COT_DATE_FORMAT`` and its Jackson dates."""
JAVA_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{1,3}Z")
"""Java's ``Instant``/``SimpleDateFormat(…ss.S'Z')``: milliseconds not padded."""
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
JAVA_DATE_TEXT = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}")
"""``Date.toString()``, as the file manager's ``Time`` column shows it."""
TIME_LIKE = re.compile(r"time|date|created|expir|dtg|edited|millis", re.IGNORECASE)

Check = Callable[[Any, dict[str, Any]], bool]


def matches(pattern: re.Pattern[str]) -> Check:
    return lambda value, _owner: isinstance(value, str) and pattern.fullmatch(value) is not None


def epoch_seconds_or_never(value: Any, _owner: dict[str, Any]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and (value == -1 or value > 0)


def created(value: Any, owner: dict[str, Any]) -> bool:
    """A Group's ``created`` is a day (``yyyy-MM-dd``); a LogEntry's a full time."""
    return matches(DAY if "bitpos" in owner else ISO_MS)(value, owner)


SHAPES: dict[str, Check] = {
    "createTime": matches(ISO_MS),
    "lastEdited": matches(ISO_MS),
    "timestamp": matches(ISO_MS),
    "serverTime": matches(ISO_MS),
    "submissionTime": matches(ISO_MS),
    "SubmissionDateTime": matches(ISO_MS),
    "servertime": matches(ISO_MS),
    "dtg": matches(ISO_MS),
    "modifiedTime": matches(ISO_MS),
    "created": created,
    "lastEventTime": matches(JAVA_MS),
    "expiration": epoch_seconds_or_never,
    "EXPIRATION": lambda value, _owner: isinstance(value, str) and re.fullmatch(r"-1|\d+", value) is not None,
    "Expiration": lambda value, _owner: (
        value == "none" or matches(re.compile(r"[\d\-T:]{19}"))(value, _owner)
    ),
    "Time": matches(JAVA_DATE_TEXT),
    "lastReportMilliseconds": lambda value, _owner: isinstance(value, int),
    "lastReportDiffMilliseconds": lambda value, _owner: isinstance(value, int),
}
"""Field -> TAK Server's shape. Confirmed: MapLayer and Mission dates carry ``@JsonFormat``
``COT_DATE_FORMAT``; node-tak's Mission, MissionChange, MissionLog, MissionSubscriber, Content and
Group schemas type these fields as strings; Mission and Resource ``expiration`` is a number."""
MUST_SEE = frozenset(SHAPES) - {"Expiration"}
"""Fields the walk has to meet, so the audit cannot pass by looking at nothing."""


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path)


@pytest.fixture
async def callers(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    async with open_callers(tls_server, pki) as opened:
        yield opened


def walk(value: Any, path: str = "") -> Iterator[tuple[str, str, Any, dict[str, Any]]]:
    """Every (path, key, value, owning object) in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key, item, value
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")


async def populate(cp: httpx.AsyncClient) -> str:
    """A mission holding one of everything that has a time; returns the file's hash."""
    created = await cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"})
    assert created.status_code == 201, created.text
    stored = await cp.post(
        "/Marti/sync/upload",
        params={"name": "orders.txt", "creatorUid": "CP-1"},
        content=b"phase 2 at dawn\n",
        headers={"content-type": "text/plain"},
    )
    digest: str = stored.json()["Hash"]
    steps = [
        cp.put(
            f"{PREFIX}/op/contents", params={"creatorUid": "CP-1"}, json={"hashes": [digest], "uids": ["s-1"]}
        ),
        cp.put(f"{PREFIX}/op/layers", params={"name": "Recon", "type": "GROUP", "creatorUid": "CP-1"}),
        cp.post(f"{PREFIX}/op/maplayers", params={"creatorUid": "CP-1"}, json={"name": "OSM", "type": "XYZ"}),
        cp.put(f"{PREFIX}/op/invite/clientUid/CP-9", params={"creatorUid": "CP-1"}),
        cp.post(
            f"{PREFIX}/logs/entries",
            json={"content": "moving", "missionNames": ["op"], "dtg": "2026-01-02T03:04:05.6Z"},
        ),
        cp.put(f"{PREFIX}/op/copy", params={"creatorUid": "CP-1", "copyName": "op-copy"}),
    ]
    for step in steps:
        answer = await step
        assert answer.status_code in (200, 201), answer.text
    return digest


async def test_every_time_field_has_tak_servers_shape(callers: Callers) -> None:
    cp = callers.cp
    digest = await populate(cp)
    gets = [
        PREFIX,
        f"{PREFIX}/op?changes=true&logs=true",
        f"{PREFIX}/op-copy?logs=true",
        f"{PREFIX}/op/changes",
        f"{PREFIX}/op/log",
        f"{PREFIX}/op/subscription?uid=CP-1",
        f"{PREFIX}/op/subscriptions/roles",
        f"{PREFIX}/op/invitations",
        f"{PREFIX}/invitations?clientUid=CP-9",
        f"{PREFIX}/op/layers",
        "/Marti/api/sync/search",
        "/Marti/sync/search",
        f"/Marti/sync/{digest}/metadata",
        "/Marti/api/files/metadata",
        "/Marti/api/groups/all",
        "/Marti/api/subscriptions/all",
        "/Marti/api/clientEndPoints",
    ]
    async with TlsClients(callers.server, callers.pki) as streams:
        device = await streams.connect(callers.pki.add_user("alpha2", "ops"))
        await device.send(pli_xml("ALPHA-2", "Alpha"))
        registry = callers.server.server.context.router.registry
        await eventually(lambda: registry.by_uid("ALPHA-2") is not None)
        answers = [await cp.get(path) for path in gets]
    answers.append(await cp.put(f"{PREFIX}/op/subscription", params={"uid": "CP-2"}))
    answers.append(await cp.post(f"{PREFIX}/op/maplayers", params={"creatorUid": "CP-1"}, json={"name": "B"}))
    answers.append(await cp.post(f"{PREFIX}/logs/entries", json={"content": "x", "missionNames": ["op"]}))
    seen: set[str] = set()
    wrong: list[str] = []
    for answer in answers:
        assert answer.status_code in (200, 201), (answer.request.url, answer.text)
        for path, key, value, owner in walk(answer.json()):
            check = SHAPES.get(key)
            if check is None:
                if TIME_LIKE.search(key):
                    wrong.append(f"{answer.request.url.path}{path}: unclassified time field {value!r}")
                continue
            seen.add(key)
            if not check(value, owner):
                wrong.append(f"{answer.request.url.path}{path} = {value!r}")
    assert wrong == []
    assert seen >= MUST_SEE, sorted(MUST_SEE - seen)
