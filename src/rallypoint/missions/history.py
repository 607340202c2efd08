"""What happened to objectives in a time window, for the after-action replay.

The journal is the record: replaying it through a fresh :class:`MissionBook` (the same code the
service starts with) gives every objective change with its author and time, in order, so the
replay shows the states the command post saw then, not today's. Only missions sharing a group
with the reader count, and none protected by a password (the replay asks for none).
"""

import json
import logging
from typing import Any

from rallypoint.errors import MissionError
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


__all__ = ["objective_changes"]
