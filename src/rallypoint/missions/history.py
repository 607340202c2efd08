"""What happened to objectives and roll calls in a time window, for the after-action replay.

The journal is the record: replaying it through a fresh :class:`MissionBook` (the same code the
service starts with) gives every objective change with its author and time, in order, so the
replay shows the states the command post saw then, not today's. Only missions sharing a group
with the reader count, and none protected by a password (the replay asks for none).
"""

import json
import logging
from typing import Any

from rallypoint.errors import MissionError
from rallypoint.missions import rollcall
from rallypoint.missions.book import STREAM_PREFIX, MissionBook
from rallypoint.store.base import JournalStore

log = logging.getLogger(__name__)

JOURNAL_PAGE = 10_000
"""Journal entries read per query."""


async def objective_changes(
    journal: JournalStore, groups: frozenset[str], start: int, end: int, limit: int
) -> list[dict[str, Any]]:
    """Objective changes from ``start`` to ``end`` (ms, inclusive) visible to ``groups``, at most
    ``limit``, oldest first."""
    book = MissionBook()
    found: list[dict[str, Any]] = []
    after = 0
    while len(found) < limit:
        entries = await journal.read_journal(STREAM_PREFIX, after_id=after, limit=JOURNAL_PAGE)
        for entry in entries:
            if entry.time > end:
                return found
            try:
                body = json.loads(entry.body)
                applied = book.apply(entry, body) if isinstance(body, dict) else None
            except (ValueError, KeyError, TypeError, MissionError) as exc:
                log.info("replay: journal entry %d skipped: %s", entry.id, exc)
                continue
            if applied is None or applied.objective is None or entry.time < start:
                continue
            mission = applied.mission
            if mission.groups.isdisjoint(groups) or mission.password_hash is not None:
                continue
            objective = applied.objective
            lat, lon = objective.geometry.center
            found.append(
                {
                    "time": entry.time,
                    "id": objective.id,
                    "shortId": objective.short_id,
                    "title": objective.title,
                    "state": objective.state,
                    "assignee": objective.assignee,
                    "author": entry.author,
                    "mission": mission.name,
                    "lat": lat,
                    "lon": lon,
                }
            )
        if len(entries) < JOURNAL_PAGE:
            break
        after = entries[-1].id
    return found[:limit]


async def rollcall_changes(
    journal: JournalStore, groups: frozenset[str], start: int, end: int, limit: int
) -> list[dict[str, Any]]:
    """Roll call starts, check-ins, overdue alarms and cancellations from ``start`` to ``end``
    visible to ``groups`` (the roll call's groups), at most ``limit``, oldest first."""
    book = rollcall.RollCallBook()
    found: list[dict[str, Any]] = []
    after = 0
    while len(found) < limit:
        entries = await journal.read_journal(rollcall.STREAM_PREFIX, after_id=after, limit=JOURNAL_PAGE)
        for entry in entries:
            if entry.time > end:
                return found
            try:
                body = json.loads(entry.body)
                changed = book.apply(entry.stream.removeprefix(rollcall.STREAM_PREFIX), entry.time, body)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.info("replay: journal entry %d skipped: %s", entry.id, exc)
                continue
            if changed is None or entry.time < start or changed.groups.isdisjoint(groups):
                continue
            found.append(
                {"time": entry.time, "id": changed.id, "code": changed.code, "text": _told(changed, body)}
            )
        if len(entries) < JOURNAL_PAGE:
            break
        after = entries[-1].id
    return found[:limit]


def _told(changed: rollcall.RollCall, body: dict[str, Any]) -> str:
    op = body["op"]
    if op == "start":
        scope = f"team {changed.team}" if changed.team else "all units"
        count = len(changed.members)
        return f"roll call of {scope} ({count} device{'' if count == 1 else 's'}) started by {changed.author}"
    if op == "answer":
        member = changed.members[body["uid"]]
        return f"{member.callsign or member.uid} checked in: {body.get('text', '')}"
    if op == "overdue":
        late = [m.callsign or m.uid for m in changed.members.values() if m.answered is None]
        return f"overdue: {', '.join(late)}"
    return "cancelled"


__all__ = ["objective_changes", "rollcall_changes"]
