"""Objectives on a mission service with a fake host: delivery, field answers, re-send, escalation."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import MissionConflict, MissionForbidden, MissionNotFound
from rallypoint.missions.acks import find_answer
from rallypoint.missions.objectives import check_fields
from rallypoint.missions.roles import READONLY
from tests.unit.test_missions_service import RED, Harness, actor, connect, create, make_harness

POINT = {"type": "Point", "coordinates": [2.5, 1.5]}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = make_harness(tmp_path, objective_resend_s=30.0, objective_ack_deadline_s=120.0)
    await h.service.start()
    await create(h)
    yield h
    await h.service.stop()


def chat(sender_uid: str, text: str) -> bytes:
    return (
        f'<event version="2.0" uid="GeoChat.{sender_uid}.CP.1" type="b-t-f" how="h-g-i-g-o"'
        ' time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z" stale="2099-01-01T00:00:00Z">'
        '<point lat="0" lon="0" hae="0" ce="1" le="1"/><detail>'
        f'<__chat parent="RootContactGroup" chatroom="CP" id="CP" senderCallsign="Alpha">'
        f'<chatgrp uid0="{sender_uid}" uid1="CP" id="CP"/></__chat>'
        f"<remarks>{text}</remarks></detail></event>"
    ).encode()


def reply(uid: str, state: str) -> bytes:
    return (
        f'<event version="2.0" uid="{uid}" type="b-m-p-s-p-i" how="h-e" time="2026-01-01T00:00:00Z"'
        ' start="2026-01-01T00:00:00Z" stale="2099-01-01T00:00:00Z"><point lat="1" lon="2" hae="0" ce="1"'
        f' le="1"/><detail><__objective id="{uid}" state="{state}"/></detail></event>'
    ).encode()


async def designate(h: Harness, assignee: str | None = "Alpha") -> str:
    mission = h.service.find(actor("CP"), name="op")
    body = {"title": "Bridge", "description": "Hold", "geometry": POINT, "due": 1_800_000_000_000}
    if assignee:
        body["assignee"] = assignee
    objective = await h.service.desk.designate(mission, actor("CP"), check_fields(body))
    return objective.id


async def test_assignment_reaches_the_callsign_and_chat_ack_is_recorded(harness: Harness) -> None:
    h = harness
    alpha = connect(h.router, "ALPHA-UID", "Alpha")
    objective_id = await designate(h)
    [marker] = h.sent_to("ALPHA-UID", "b-m-p-s-p-i")
    assert marker.uid == objective_id
    assert marker.detail is not None
    assert 'state="assigned"' in marker.detail.xml
    assert "ACK OBJ-" in marker.detail.xml
    mission, objective = h.service.book.objective(objective_id)
    h.clock[0] += 7000
    h.router.submit(
        alpha, parse_event(chat("ALPHA-UID", f"ack {objective.short_id} on our way")), None, h.clock[0]
    )
    await h.service.field.drain()
    _, objective = h.service.book.objective(objective_id)
    assert objective.state == "acknowledged"
    assert (objective.history[-1].author, objective.history[-1].time) == ("ALPHA-UID", h.clock[0])
    h.router.submit(alpha, parse_event(reply(objective_id, "in_progress")), None, h.clock[0] + 1)
    await h.service.field.drain()
    assert h.service.book.objective(objective_id)[1].state == "in_progress"
    assert [c.summary.split()[-1] for c in mission.changes if c.content_uid == objective_id] == [
        "assigned",
        "acknowledged",
        "in_progress",
    ]


async def test_answer_from_someone_else_is_refused(harness: Harness) -> None:
    h = harness
    objective_id = await designate(h)
    eve = connect(h.router, "EVE", "Eve")
    h.router.submit(eve, parse_event(reply(objective_id, "done")), None, h.clock[0])
    await h.service.field.drain()
    assert h.service.book.objective(objective_id)[1].state == "assigned"
    assert h.router.counters.get("mission_field_refused") == 1
    mission = h.service.find(actor("CP"), name="op")
    await h.service.change(
        mission, actor("CP"), "MISSION_SET_ROLE", {"op": "role", "uid": "RO", "role": READONLY}
    )
    with pytest.raises(MissionForbidden):
        await h.service.desk.set_state(actor("RO"), objective_id, "done")
    with pytest.raises(MissionNotFound):
        await h.service.desk.set_state(actor("EVE", RED), objective_id, "done")


async def test_rest_transitions_and_illegal_move(harness: Harness) -> None:
    h = harness
    objective_id = await designate(h, assignee=None)
    with pytest.raises(MissionConflict):
        await h.service.desk.set_state(actor("CP"), objective_id, "done")
    await h.service.desk.assign(actor("CP"), objective_id, "BRAVO-UID")
    assert h.sent_to("BRAVO-UID", "b-m-p-s-p-i")  # unknown name: taken as a uid, kept for it
    await h.service.desk.set_state(actor("CP"), objective_id, "cancelled")
    assert h.service.book.objective(objective_id)[1].state == "cancelled"


@pytest.mark.parametrize("final", ["done", "cancelled"])
async def test_the_assignee_is_told_when_its_objective_is_done_or_cancelled(
    harness: Harness, final: str
) -> None:
    h = harness
    connect(h.router, "ALPHA-UID", "Alpha")
    objective_id = await designate(h)
    if final == "done":
        await h.service.desk.set_state(actor("CP"), objective_id, "acknowledged")
    await h.service.desk.set_state(actor("CP"), objective_id, final)
    markers = h.sent_to("ALPHA-UID", "b-m-p-s-p-i")
    assert markers[-1].detail is not None
    assert f'state="{final}"' in markers[-1].detail.xml, "the marker on its map shows the end"
    [told] = h.sent_to("ALPHA-UID", "b-t-f")
    assert told.detail is not None
    short_id = h.service.book.objective(objective_id)[1].short_id
    assert told.detail.xml.count(short_id) == 1
    assert f"on op: {final.upper()} (by CP)" in told.detail.xml


async def test_resend_to_connected_assignee_then_escalate_once(harness: Harness) -> None:
    h = harness
    mission = h.service.find(actor("CP"), name="op")
    await h.service.subscribe(mission, actor("CP"))
    connect(h.router, "ALPHA-UID", "Alpha")
    objective_id = await designate(h)
    assert len(h.sent_to("ALPHA-UID", "b-m-p-s-p-i")) == 1
    h.service.tick(h.clock[0] + 29_000)
    assert len(h.sent_to("ALPHA-UID", "b-m-p-s-p-i")) == 1
    h.service.tick(h.clock[0] + 30_000)
    assert len(h.sent_to("ALPHA-UID", "b-m-p-s-p-i")) == 2
    h.clock[0] += 120_000
    h.service.tick(h.clock[0])
    h.service.tick(h.clock[0] + 1)
    await h.service.field.drain()
    alerts = h.sent_to("CP", "b-t-f")
    assert len(alerts) == 1
    assert alerts[0].detail is not None
    assert "not acknowledged" in alerts[0].detail.xml
    objective = h.service.book.objective(objective_id)[1]
    assert objective.escalated
    assert any("unacknowledged" in c.summary for c in mission.changes)


def test_answers_are_recognised() -> None:
    limits = XmlLimits()
    answer = find_answer(parse_event(chat("A", "DONE obj-0a1b2c3d thanks")), limits)
    assert answer is not None
    assert answer.short
    assert answer.objective == "OBJ-0A1B2C3D"
    assert answer.state == "done"
    assert find_answer(parse_event(chat("A", "ok OBJ-12")), limits) is None
    answer = find_answer(parse_event(reply("abc", "acknowledged")), limits)
    assert answer is not None
    assert not answer.short
    assert answer.objective == "abc"
    assert find_answer(parse_event(reply("abc", "designated")), limits) is None
