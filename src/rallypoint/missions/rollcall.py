"""Personnel accountability (PAR): a roll call of the devices of one team or of the whole incident.

No TAK server has one, so the answer has to come from a stock client: every device in scope
gets a GeoChat direct message from the server (like an objective's alert) and checks in by
replying ``PAR`` or ``OK``, or the roll call's code ``PAR-1A2B3C`` when several are open; or,
as objectives are answered, by a CoT reply carrying the request's ``<__rollcall>`` tag with
``state="answered"`` (:mod:`rollcall_watch`). The
state lives in memory and is rebuilt at start from the store's journal (streams
``rollcall:<id>``), the way missions are; this module is the sans-I/O part: the values, the
journal bodies applied to them, the answer a chat carries, and the JSON the API shows. Time
is always an argument.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rallypoint.errors import InvalidMissionRequest

STREAM_PREFIX = "rollcall:"
OPEN = "open"
CANCELLED = "cancelled"
ANSWERED = "answered"
WAITING = "waiting"
OVERDUE = "overdue"

DEFAULT_DEADLINE_S = 300
MIN_DEADLINE_S = 10
MAX_DEADLINE_S = 24 * 3600
DEFAULT_NO_POSITION_MIN = 10
MAX_NO_POSITION_MIN = 24 * 60
MAX_MEMBERS = 2_000
"""Devices one roll call asks at most: a large incident, not the whole register."""
MAX_OPEN = 100
"""Roll calls open at once; past it starting one is refused (cancel some first)."""
MAX_KEPT = 1_000
"""Roll calls kept in memory (the journal keeps all); the oldest ended ones are forgotten first."""
MAX_ANSWER_CHARS = 140
"""Of the answering chat's text kept with the answer (what a person typed, not a novel)."""
CODE_PREFIX = "PAR-"
REPLY_TAG = "__rollcall"
"""Our detail element on the request, which a CoT reply carries back (TAK clients ignore it)."""
REQUESTED = "requested"
REPLY_STATE = "answered"

_CODE = re.compile(r"\bPAR-([0-9A-F]{6})\b", re.IGNORECASE)
_PLAIN = re.compile(r"^\s*(PAR|OK)\b", re.IGNORECASE)


@dataclass
class Member:
    """One device asked to check in."""

    uid: str
    callsign: str | None
    team: str | None
    answered: int | None = None
    """When it checked in (ms), None while it has not."""
    answer: str | None = None


@dataclass
class RollCall:
    """One roll call: who asked whom, until when, and who has answered."""

    id: str
    groups: frozenset[str]
    """The starter's groups: only callers sharing one see it, only their devices are asked."""
    team: str | None
    """None: the whole incident (every device of the groups)."""
    author: str
    started: int
    deadline: int
    no_position_ms: int
    members: dict[str, Member] = field(default_factory=dict)
    state: str = OPEN
    ended: int | None = None
    overdue_raised: bool = False
    """The overdue alert was raised (journaled, so a restart does not raise it again)."""

    @property
    def code(self) -> str:
        return CODE_PREFIX + self.id[:6].upper()

    def status(self, member: Member, now: int) -> str:
        if member.answered is not None:
            return ANSWERED
        return OVERDUE if now >= self.deadline else WAITING

    def overdue(self, now: int) -> list[Member]:
        return [m for m in self.members.values() if self.status(m, now) == OVERDUE]

    def waiting(self) -> bool:
        return any(m.answered is None for m in self.members.values())


class PlainAnswer:
    """The answer carries no code: it is for every open roll call that asks the sender."""


ANY_ROLLCALL = PlainAnswer()


def find_answer(text: str) -> str | PlainAnswer | None:
    """The roll call code (six hex digits, upper case) a chat names, :data:`ANY_ROLLCALL` for a
    plain ``PAR``/``OK``, or None when the chat is no check-in."""
    match = _CODE.search(text)
    if match is not None:
        return match.group(1).upper()
    return ANY_ROLLCALL if _PLAIN.match(text) else None


def request_text(rollcall: RollCall) -> str:
    """The chat every member receives: what is asked and how to answer from a stock client."""
    scope = f"team {rollcall.team}" if rollcall.team else "all units"
    minutes = max(1, round((rollcall.deadline - rollcall.started) / 60_000))
    return (
        f"ROLL CALL {rollcall.code} ({scope}) from {rollcall.author}: reply PAR "
        f"(or {rollcall.code}) by chat within {minutes} min to check in."
    )


def request_tag(rollcall: RollCall) -> str:
    """``<__rollcall id code state="requested"/>``: what a CoT reply re-sends as ``answered``."""
    return f'<{REPLY_TAG} id="{rollcall.id}" code="{rollcall.code}" state="{REQUESTED}"/>'


def receipt_text(answered: list[RollCall]) -> str:
    """What a device is told after its check-in counted."""
    return f"ROLL CALL {', '.join(r.code for r in answered)}: check-in received, thank you."


def cancel_text(rollcall: RollCall) -> str:
    return f"ROLL CALL {rollcall.code} cancelled by the command post: no answer needed."


def check_start(
    body: dict[str, Any], no_position_min: int = DEFAULT_NO_POSITION_MIN
) -> tuple[str | None, int, int]:
    """(team, deadline seconds, no-position minutes) from a start request's JSON body; the
    minutes default to ``no_position_min`` (the setting ``rollcall_no_position_minutes``)."""
    team = body.get("team")
    if team is not None and (not isinstance(team, str) or not team or len(team) > 100):
        raise InvalidMissionRequest("team must be a team name (absent: the whole incident)")
    deadline = _int(body, "deadlineSeconds", DEFAULT_DEADLINE_S, MIN_DEADLINE_S, MAX_DEADLINE_S)
    no_position = _int(body, "noPositionMinutes", no_position_min, 1, MAX_NO_POSITION_MIN)
    return team, deadline, no_position


def _int(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidMissionRequest(f"{name} must be a whole number from {low} to {high}")
    return value


class RollCallBook:
    """Every roll call in memory, changed only by applying journal bodies (live or replayed)."""

    def __init__(self) -> None:
        self.rollcalls: dict[str, RollCall] = {}
        """By id, oldest first."""

    def open(self) -> list[RollCall]:
        return [r for r in self.rollcalls.values() if r.state == OPEN]

    def by_code(self, code: str) -> RollCall | None:
        return next((r for r in self.open() if r.code == CODE_PREFIX + code), None)

    def apply(self, rollcall_id: str, time: int, body: dict[str, Any]) -> RollCall | None:
        """Apply one journal body; the roll call it changed (None: one already forgotten)."""
        op = body["op"]
        if op == "start":
            return self._start(rollcall_id, time, body)
        rollcall = self.rollcalls.get(rollcall_id)
        if rollcall is None:
            return None
        if op == "answer":
            member = rollcall.members[body["uid"]]
            if member.answered is None:  # the first answer counts (two nodes may both journal one)
                member.answered, member.answer = time, body.get("text")
        elif op == "cancel":
            rollcall.state, rollcall.ended = CANCELLED, time
        elif op == "overdue":
            rollcall.overdue_raised = True
        else:
            raise KeyError(f"unknown roll call op {op!r}")
        return rollcall

    def _start(self, rollcall_id: str, time: int, body: dict[str, Any]) -> RollCall:
        rollcall = RollCall(
            id=rollcall_id,
            groups=frozenset(body["groups"]),
            team=body.get("team"),
            author=body["author"],
            started=time,
            deadline=time + int(body["deadlineSeconds"]) * 1000,
            no_position_ms=int(body["noPositionMinutes"]) * 60_000,
        )
        for uid, callsign, team in body["members"]:
            rollcall.members[uid] = Member(uid, callsign, team)
        self.rollcalls[rollcall_id] = rollcall
        self._forget_old()
        return rollcall

    def _forget_old(self) -> None:
        while len(self.rollcalls) > MAX_KEPT:
            ended = next((r.id for r in self.rollcalls.values() if r.state != OPEN), None)
            del self.rollcalls[ended if ended is not None else next(iter(self.rollcalls))]


LastPosition = Callable[[str], int | None]
"""When a device last reported its position (ms), None if never (as far as the server knows)."""


def rollcall_json(rollcall: RollCall, now: int, last_position: LastPosition) -> dict[str, Any]:
    """The roll call as the API and the live feed show it, with each member's status at ``now``."""
    members = []
    counts = {ANSWERED: 0, WAITING: 0, OVERDUE: 0, "noPosition": 0}
    for member in rollcall.members.values():
        status = rollcall.status(member, now)
        position = last_position(member.uid)
        lost = position is None or now - position >= rollcall.no_position_ms
        counts[status] += 1
        counts["noPosition"] += lost
        members.append(
            {
                "uid": member.uid,
                "callsign": member.callsign,
                "team": member.team,
                "status": status,
                "answered": member.answered,
                "answer": member.answer,
                "lastPosition": position,
                "noPosition": lost,
            }
        )
    return {
        "id": rollcall.id,
        "code": rollcall.code,
        "team": rollcall.team,
        "groups": sorted(rollcall.groups),
        "author": rollcall.author,
        "started": rollcall.started,
        "deadline": rollcall.deadline,
        "noPositionMinutes": rollcall.no_position_ms // 60_000,
        "state": rollcall.state,
        "ended": rollcall.ended,
        "complete": not rollcall.waiting(),
        "counts": counts,
        "members": members,
    }


__all__ = ["ANY_ROLLCALL", "Member", "RollCall", "RollCallBook", "find_answer", "rollcall_json"]
