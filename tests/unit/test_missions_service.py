"""The mission service without a server: a real router, an in-memory journal, a recording send_to.

Covers the change path (check, journal, apply, announce), replay after a restart, concurrent
changes, group and role checks, and the router observer (``marti/dest mission``).
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rallypoint.cot.event import Event
from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.errors import MissionConflict, MissionForbidden, MissionNotFound
from rallypoint.missions.access import Actor
from rallypoint.missions.requests import mission_fields
from rallypoint.missions.roles import READONLY, WRITE
from rallypoint.missions.service import MissionService
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from tests.hosts import recording_host
from tests.memory_store import MemoryStore

BLUE = frozenset({"blue"})
RED = frozenset({"red"})


@dataclass
class Harness:
    """A service on a fake host: ``sent`` records every ``send_to`` (uid, event)."""

    service: MissionService
    router: Router
    journal: MemoryStore
    clock: list[int]
    sent: list[tuple[str, Event]] = field(default_factory=list)

    def sent_to(self, uid: str, cot_type: str | None = None) -> list[Event]:
        return [e for u, e in self.sent if u == uid and (cot_type is None or e.type == cot_type)]


def make_harness(tmp_path: Path, journal: MemoryStore | None = None, **settings: object) -> Harness:
    router = Router()
    journal = journal or MemoryStore()
    clock = [1_700_000_000_000]
    host, harness_sent = recording_host(tmp_path, router, journal, lambda: clock[0], **settings)
    return Harness(MissionService(host), router, journal, clock, harness_sent)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = make_harness(tmp_path)
    await h.service.start()
    yield h
    await h.service.stop()


def actor(uid: str, groups: frozenset[str] = BLUE, **extra: str) -> Actor:
    return Actor(uid=uid, groups=groups, **extra)


async def create(harness: Harness, name: str = "op", creator: str = "CP", **kw: object) -> None:
    who = actor(creator)
    await harness.service.create(who, mission_fields(who, name, **kw))  # type: ignore[arg-type]


async def test_create_subscribe_and_content_change_reach_subscribers(harness: Harness) -> None:
    await create(harness, description="plan")
    mission = harness.service.find(actor("X"), name="op")
    assert mission.creator_uid == "CP"
    assert mission.groups == BLUE
    subscription, token = await harness.service.subscribe(mission, actor("TEAM-1"))
    assert subscription.uid == "TEAM-1"
    assert token
    harness.clock[0] += 5000
    await harness.service.change(mission, actor("CP"), WRITE, {"op": "keywords", "keywords": ["alpha"]})
    [event] = harness.sent_to("TEAM-1", "t-x-m-c-k")
    assert 'name="op"' in event.detail.xml if event.detail else False
    assert [c.type for c in mission.changes] == ["CREATE_MISSION", "SUBSCRIBE", "KEYWORDS"]
    assert mission.changes[-1].time == harness.clock[0]
    assert mission.changes[-1].author == "CP"


async def test_outside_groups_sees_nothing(harness: Harness) -> None:
    await create(harness)
    with pytest.raises(MissionNotFound):
        harness.service.find(actor("EVE", RED), name="op")
    assert harness.service.visible_missions(actor("EVE", RED)) == []


async def test_cannot_create_in_foreign_group(harness: Harness) -> None:
    who = actor("CP")
    with pytest.raises(MissionForbidden):
        mission_fields(who, "x", groups=["red"])


async def test_duplicate_name_conflicts(harness: Harness) -> None:
    await create(harness)
    with pytest.raises(MissionConflict):
        await create(harness)


async def test_readonly_role_may_not_write(harness: Harness) -> None:
    await create(harness)
    mission = harness.service.find(actor("CP"), name="op")
    await harness.service.change(
        mission, actor("CP"), "MISSION_SET_ROLE", {"op": "role", "uid": "RO", "role": READONLY}
    )
    assert harness.sent_to("RO", "t-x-m-r")
    with pytest.raises(MissionForbidden):
        await harness.service.change(mission, actor("RO"), WRITE, {"op": "keywords", "keywords": []})


async def test_concurrent_changes_one_consistent_log(harness: Harness) -> None:
    await create(harness)
    mission = harness.service.find(actor("CP"), name="op")

    async def write(who: str, count: int) -> None:
        for n in range(count):
            body = {"op": "keywords", "keywords": [f"{who}-{n}"]}
            await harness.service.change(mission, actor(who), WRITE, body)

    await asyncio.gather(write("A", 20), write("B", 20))
    ids = [c.id for c in mission.changes]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == 41
    journal_ids = [e.id for e in harness.journal.entries]
    assert ids == journal_ids
    last = json.loads(harness.journal.entries[-1].body)["keywords"]
    assert mission.keywords == last


async def test_replay_rebuilds_the_same_state(tmp_path: Path, harness: Harness) -> None:
    await create(harness, keywords=["k"])
    mission = harness.service.find(actor("CP"), name="op")
    await harness.service.subscribe(mission, actor("TEAM-1"))
    before = (mission.keywords, sorted(mission.subscriptions), [c.id for c in mission.changes])
    again = make_harness(tmp_path, harness.journal)
    await again.service.start()
    try:
        replayed = again.service.find(actor("CP"), name="op")
        assert (replayed.keywords, sorted(replayed.subscriptions), [c.id for c in replayed.changes]) == before
        assert replayed.guid == mission.guid
    finally:
        await again.service.stop()


def connect(router: Router, uid: str, callsign: str, groups: frozenset[str] = BLUE) -> Subscriber:
    """A stream client registered with the router and bound to its uid and callsign."""
    subscriber = Subscriber(lambda: None, transport="tcp", in_groups=groups, out_groups=groups)
    router.registry.add(subscriber)
    router.registry.bind(subscriber, uid, callsign)
    router.devices.bound(uid, callsign, None, groups, 0)  # as the router's bind does
    return subscriber


def _marker(uid: str, dests: str) -> Event:
    xml = (
        f'<event version="2.0" uid="{uid}" type="b-m-p-s-m" how="h-g-i-g-o" time="2026-01-01T00:00:00Z"'
        ' start="2026-01-01T00:00:00Z" stale="2099-01-01T00:00:00Z"><point lat="1.5" lon="2.5" hae="0"'
        f' ce="1" le="1"/><detail><contact callsign="Spot"/><marti>{dests}</marti></detail></event>'
    )
    return parse_event(xml.encode())


async def test_marti_dest_mission_adds_uid_and_forwards(harness: Harness) -> None:
    await create(harness)
    mission = harness.service.find(actor("CP"), name="op")
    await harness.service.subscribe(mission, actor("TEAM-1"))
    sender = connect(harness.router, "ALPHA", "Alpha")
    harness.router.submit(sender, _marker("spot-1", '<dest mission="op"/>'), None, harness.clock[0])
    await harness.service.field.drain()
    assert "spot-1" in mission.uids
    assert mission.uids["spot-1"].details["callsign"] == "Spot"
    forwarded = harness.sent_to("TEAM-1", "b-m-p-s-m")
    assert forwarded
    assert b"<marti>" not in serialize_event(forwarded[0], strip_marti=True)
    [change] = harness.sent_to("TEAM-1", "t-x-m-c")
    assert "<contentUid>spot-1</contentUid>" in (change.detail.xml if change.detail else "")


async def test_marti_dest_from_outside_groups_is_ignored(harness: Harness) -> None:
    await create(harness)
    mission = harness.service.find(actor("CP"), name="op")
    sender = connect(harness.router, "EVE", "Eve", RED)
    harness.router.submit(sender, _marker("spot-2", '<dest mission="op"/>'), None, harness.clock[0])
    await harness.service.field.drain()
    assert "spot-2" not in mission.uids
    assert harness.router.counters.get("mission_dest_unknown") == 1


async def test_unknown_journal_entries_are_skipped(tmp_path: Path) -> None:
    journal = MemoryStore()
    await journal.append_journal("mission:x", 1, "a", json.dumps({"op": "keywords", "keywords": []}))
    await journal.append_journal("mission:y", 2, "a", "not json")
    h = make_harness(tmp_path, journal)
    await h.service.start()
    try:
        assert h.service.book.missions == {}
    finally:
        await h.service.stop()
