"""Roll calls (PAR) without a server: a real router, an in-memory journal, a recording send_to,
and a ManualClock moved on instead of waited for.

Covers the scope (the caller's groups, a team), the GeoChat request to each device, answers
by chat (plain ``PAR`` and the code) and by CoT reply, answers that must not count (another device, another
group, a spoofed sender uid), the overdue alarm raised once and not again after a restart,
the no-position column and alarm, cancelling, and replay of the journal.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rallypoint.clock import ManualClock
from rallypoint.cot.event import Event
from rallypoint.cot.xml import parse_event
from rallypoint.errors import InvalidMissionRequest, MissionConflict, MissionNotFound
from rallypoint.missions import rollcall as model
from rallypoint.missions.rollcall_service import RollCallService
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from tests.hosts import recording_host
from tests.interop.clients import chat_xml, pli_xml
from tests.memory_store import MemoryStore

BLUE = frozenset({"blue"})
RED = frozenset({"red"})


@dataclass
class Harness:
    service: RollCallService
    router: Router
    journal: MemoryStore
    clock: ManualClock
    sent: list[tuple[str, Event]] = field(default_factory=list)
    told: list[tuple[frozenset[str], dict[str, Any]]] = field(default_factory=list)

    def texts_to(self, uid: str) -> list[str]:
        return [e.detail.xml for u, e in self.sent if u == uid and e.detail is not None]

    def device(self, uid: str, team: str | None = None, groups: frozenset[str] = BLUE) -> Subscriber:
        subscriber = Subscriber(lambda: None, transport="tcp", in_groups=groups, out_groups=groups)
        self.router.attach(subscriber, self.clock.wall_ms())
        self.router.submit(subscriber, parse_event(pli_xml(uid, uid)), None, self.clock.wall_ms())
        if team is not None:
            device = self.router.devices.get(uid)
            assert device is not None
            device.team = team
        return subscriber

    def chat(self, sender: Subscriber, text: str, sender_uid: str | None = None) -> None:
        uid = sender_uid or sender.uid or "nobody"
        event = parse_event(chat_xml(uid, uid, text, to_uid="rallypoint"))
        self.router.submit(sender, event, None, self.clock.wall_ms())


def make_harness(tmp_path: Path, journal: MemoryStore | None = None) -> Harness:
    router = Router()
    clock = ManualClock()
    journal = journal or MemoryStore()
    host, sent = recording_host(tmp_path, router, journal, clock.wall_ms)
    harness = Harness(RollCallService(host), router, journal, clock, sent)
    harness.service.listeners.append(lambda groups, message: harness.told.append((groups, message)))
    return harness


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = make_harness(tmp_path)
    await h.service.start()
    yield h
    await h.service.stop()


def status(harness: Harness, rollcall: model.RollCall) -> dict[str, str]:
    data = harness.service.json(rollcall)
    return {m["uid"]: m["status"] for m in data["members"]}


async def test_the_callers_groups_are_asked_by_geochat_and_a_plain_par_answers(harness: Harness) -> None:
    alpha = harness.device("ALPHA-1")
    harness.device("BRAVO-1")
    harness.device("RED-1", groups=RED)
    rollcall = await harness.service.start_rollcall("cp", BLUE, None, 300, 10)
    assert set(rollcall.members) == {"ALPHA-1", "BRAVO-1"}
    for uid in ("ALPHA-1", "BRAVO-1"):
        [request] = harness.texts_to(uid)
        assert f"reply PAR (or {rollcall.code})" in request
        assert "<__chat" in request
    assert harness.texts_to("RED-1") == []

    harness.clock.advance(12)
    harness.chat(alpha, "PAR all good")
    await harness.service.drain()
    assert status(harness, rollcall) == {"ALPHA-1": "answered", "BRAVO-1": "waiting"}
    member = rollcall.members["ALPHA-1"]
    assert member.answered == harness.clock.wall_ms()
    assert member.answer == "PAR all good"
    assert harness.told[-1][0] == BLUE
    assert harness.told[-1][1]["rollcall"]["counts"]["answered"] == 1


async def test_a_team_roll_call_asks_only_that_team_and_the_code_answers(harness: Harness) -> None:
    harness.device("ALPHA-1", team="Cyan")
    bravo = harness.device("BRAVO-1", team="Red")
    harness.device("ALPHA-2", team="Cyan")
    cyan = await harness.service.start_rollcall("cp", BLUE, "Cyan", 300, 10)
    everyone = await harness.service.start_rollcall("cp", BLUE, None, 300, 10)
    assert set(cyan.members) == {"ALPHA-1", "ALPHA-2"}
    harness.chat(bravo, f"here {everyone.code}")
    await harness.service.drain()
    assert status(harness, everyone)["BRAVO-1"] == "answered"
    assert "BRAVO-1" not in cyan.members


async def test_nobody_else_answers_for_a_device(harness: Harness) -> None:
    harness.device("ALPHA-1")
    bravo = harness.device("BRAVO-1")
    outsider = harness.device("RED-1", groups=RED)
    rollcall = await harness.service.start_rollcall("cp", BLUE, None, 300, 10)
    harness.chat(outsider, f"PAR {rollcall.code}", sender_uid="ALPHA-1")  # names ALPHA in its chat
    harness.chat(bravo, "PAR", sender_uid="ALPHA-1")  # a member answering as another
    await harness.service.drain()
    assert status(harness, rollcall) == {"ALPHA-1": "waiting", "BRAVO-1": "answered"}
    assert harness.router.counters.get("rollcall_answer_refused") == 1


async def test_overdue_raises_one_alarm_that_a_restart_does_not_repeat(tmp_path: Path) -> None:
    harness = make_harness(tmp_path)
    await harness.service.start()
    alpha = harness.device("ALPHA-1")
    harness.device("BRAVO-1")
    rollcall = await harness.service.start_rollcall("cp", BLUE, None, 60, 10)
    harness.clock.advance(58)
    assert harness.service.tick(harness.clock.wall_ms()) == rollcall.deadline  # nearer than TICK_MS
    harness.chat(alpha, "ok")
    await harness.service.drain()
    harness.clock.advance(2)
    harness.service.tick(harness.clock.wall_ms())
    harness.service.tick(harness.clock.wall_ms())
    await harness.service.drain()
    alarms = [m for _, m in harness.told if m["type"] == "rollcall-overdue"]
    assert alarms == [
        {"type": "rollcall-overdue", "id": rollcall.id, "code": rollcall.code, "overdue": ["BRAVO-1"]}
    ]
    assert status(harness, rollcall) == {"ALPHA-1": "answered", "BRAVO-1": "overdue"}
    await harness.service.stop()

    again = make_harness(tmp_path, harness.journal)
    again.clock.advance(120)
    await again.service.start()
    replayed = again.service.get(rollcall.id, BLUE)
    assert replayed.members["ALPHA-1"].answered == rollcall.members["ALPHA-1"].answered
    assert replayed.overdue_raised
    again.service.tick(again.clock.wall_ms())
    await again.service.drain()
    assert [m for _, m in again.told if m["type"] == "rollcall-overdue"] == []
    await again.service.stop()


async def test_no_position_for_n_minutes_is_shown_and_told(harness: Harness) -> None:
    alpha = harness.device("ALPHA-1")
    harness.device("BRAVO-1")
    rollcall = await harness.service.start_rollcall("cp", BLUE, None, 3600, 2)
    harness.service.tick(harness.clock.wall_ms())
    harness.told.clear()
    harness.clock.advance(90)
    harness.router.submit(alpha, parse_event(pli_xml("ALPHA-1", "ALPHA-1")), None, harness.clock.wall_ms())
    harness.clock.advance(60)
    harness.service.tick(harness.clock.wall_ms())
    data = harness.service.json(rollcall)
    lost = {m["uid"]: m["noPosition"] for m in data["members"]}
    assert lost == {"ALPHA-1": False, "BRAVO-1": True}
    assert data["counts"]["noPosition"] == 1
    [(_, told), (groups, alarm)] = harness.told
    assert told["rollcall"]["counts"]["noPosition"] == 1
    assert groups == BLUE
    assert alarm == {
        "type": "rollcall-no-position",
        "id": rollcall.id,
        "code": rollcall.code,
        "minutes": 2,
        "members": ["BRAVO-1"],
    }

    harness.told.clear()
    harness.service.tick(harness.clock.wall_ms())
    assert harness.told == [], "nothing changed: no second alarm"
    harness.clock.advance(60)  # ALPHA's report is 2 minutes old now
    harness.service.tick(harness.clock.wall_ms())
    alarms = [m for _, m in harness.told if m["type"] == "rollcall-no-position"]
    assert [a["members"] for a in alarms] == [["ALPHA-1"]], "only the member newly without position"
    assert harness.router.counters.get("rollcall_no_position") == 2


def reply_xml(uid: str, tag: str) -> bytes:
    """A pytak script's (or a plugin's) answer: its own PLI carrying the request's tag back."""
    return pli_xml(uid, uid).replace(b"</detail>", tag.encode() + b"</detail>")


async def test_a_cot_reply_with_the_request_tag_answers(harness: Harness) -> None:
    alpha = harness.device("ALPHA-1")
    bravo = harness.device("BRAVO-1")
    outsider = harness.device("RED-1", groups=RED)
    rollcall = await harness.service.start_rollcall("cp", BLUE, None, 300, 10)
    [request] = harness.texts_to("ALPHA-1")
    tag = f'<__rollcall id="{rollcall.id}" code="{rollcall.code}" state="requested"/>'
    assert tag in request, "the request names the roll call for a CoT reply"

    def send(sender: Subscriber, uid: str, tag: str) -> None:
        harness.router.submit(sender, parse_event(reply_xml(uid, tag)), None, harness.clock.wall_ms())

    send(alpha, "ALPHA-1", tag)  # re-sent unchanged: still only requested
    send(outsider, "RED-1", f'<__rollcall id="{rollcall.id}" state="answered"/>')  # not asked
    send(bravo, "BRAVO-1", '<__rollcall id="0000" state="answered"/>')  # no such roll call
    await harness.service.drain()
    assert status(harness, rollcall) == {"ALPHA-1": "waiting", "BRAVO-1": "waiting"}
    assert harness.router.counters.get("rollcall_answer_refused") == 2

    send(alpha, "ALPHA-1", f'<__rollcall id="{rollcall.id}" state="answered" text="4 pax ok"/>')
    send(bravo, "BRAVO-1", f'<__rollcall code="{rollcall.code.lower()}" state="answered"/>')
    await harness.service.drain()
    assert status(harness, rollcall) == {"ALPHA-1": "answered", "BRAVO-1": "answered"}
    assert [m.answer for m in rollcall.members.values()] == ["4 pax ok", "CoT reply"]
    assert any("check-in received" in xml for xml in harness.texts_to("BRAVO-1")), "the device is told"


async def test_another_groups_roll_call_is_invisible_and_cancel_tells_the_waiting(harness: Harness) -> None:
    alpha = harness.device("ALPHA-1")
    harness.device("BRAVO-1")
    rollcall = await harness.service.start_rollcall("cp", BLUE, None, 300, 10)
    with pytest.raises(MissionNotFound):
        harness.service.get(rollcall.id, RED)
    assert harness.service.visible(RED) == []
    harness.chat(alpha, "PAR")
    await harness.service.drain()
    harness.sent.clear()
    await harness.service.cancel(rollcall, "cp")
    assert [u for u, _ in harness.sent] == ["BRAVO-1"]
    with pytest.raises(MissionConflict):
        await harness.service.cancel(rollcall, "cp")
    harness.chat(alpha, f"PAR {rollcall.code}")
    await harness.service.drain()
    assert harness.router.counters.get("rollcall_answer_refused") == 1  # no longer asked


async def test_a_roll_call_with_nobody_in_scope_is_refused(harness: Harness) -> None:
    harness.device("RED-1", groups=RED)
    with pytest.raises(InvalidMissionRequest):
        await harness.service.start_rollcall("cp", BLUE, None, 300, 10)
    with pytest.raises(InvalidMissionRequest):
        await harness.service.start_rollcall("cp", RED, "Green", 300, 10)


def test_answers_found_in_chat_text() -> None:
    assert model.find_answer("PAR") is model.ANY_ROLLCALL
    assert model.find_answer("  ok, moving") is model.ANY_ROLLCALL
    assert model.find_answer("check par-1a2b3c please") == "1A2B3C"
    assert model.find_answer("parking lot") is None
    assert model.find_answer("spare") is None
    assert model.find_answer("looks ok") is None


def test_start_requests_are_checked() -> None:
    assert model.check_start({}) == (None, model.DEFAULT_DEADLINE_S, model.DEFAULT_NO_POSITION_MIN)
    assert model.check_start({"team": "Cyan", "deadlineSeconds": 60}) == ("Cyan", 60, 10)
    assert model.check_start({}, no_position_min=3)[2] == 3, "the setting's default"
    assert model.check_start({"noPositionMinutes": 7}, no_position_min=3)[2] == 7
    for bad in ({"team": 3}, {"deadlineSeconds": 1}, {"deadlineSeconds": True}, {"noPositionMinutes": 0}):
        with pytest.raises(InvalidMissionRequest):
            model.check_start(bad)
