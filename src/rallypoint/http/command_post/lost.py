"""Units the command post has lost contact with, kept as their last known positions.

A TAK client is told to drop a device whose connection closed (the router's disconnect
delete) and drops one whose reports went stale. An incident commander needs the opposite: in
search and rescue the last known position *is* the job. So the router tells the live hub
about every device position it lets go (see ``Router.on_lost``), and this board keeps it,
with the groups that could see it, when contact was lost and why, until the unit reports
again or :data:`LOST_KEEP_MS` has passed. A unit whose last report goes stale while lost
is due an alert, once.

No I/O and no clock: every call takes ``now_ms``.
"""

from dataclasses import dataclass
from typing import Any

from rallypoint.cot.event import Event
from rallypoint.http.command_post.contacts import Contact, contact_json

MAX_LOST = 10_000
"""Lost units remembered; past it the one lost longest ago is forgotten (a big incident has hundreds)."""
LOST_KEEP_MS = 12 * 3600 * 1000
"""How long a lost unit stays on the command post's map: an operational period."""
LOST_ALERT_KIND = "Lost contact"


@dataclass(slots=True)
class LostUnit:
    """One unit's last known position and how contact with it was lost."""

    event: Event
    groups: frozenset[str]
    """The groups its last report was routed into: only their members see it."""
    since: int
    reason: str
    """``disconnected`` (its connection closed) or ``stale`` (it stopped reporting)."""
    alerted: bool = False
    """Its report has gone stale and the alert for it was raised."""

    def visible_to(self, groups: frozenset[str]) -> bool:
        return not self.groups.isdisjoint(groups)

    def contact(self) -> Contact:
        """The contract's Contact, marked lost."""
        contact = contact_json(self.event)
        contact["lost"] = {"since": self.since, "reason": self.reason}
        return contact

    def alert(self, *, active: bool = True) -> dict[str, Any]:
        """The alert shown once its last report has gone stale."""
        event = self.event
        return {
            "uid": event.uid,
            "callsign": event.callsign or event.uid,
            "kind": LOST_ALERT_KIND,
            "lat": event.point.lat,
            "lon": event.point.lon,
            "time": max(event.stale, self.since),
            "active": active,
            "lost": True,
            "device": event.uid,
        }


class LostBoard:
    """Lost units by uid, the one lost longest ago first."""

    def __init__(self, limit: int = MAX_LOST, keep_ms: int = LOST_KEEP_MS) -> None:
        self._units: dict[str, LostUnit] = {}
        self._limit = limit
        self._keep_ms = keep_ms

    def __len__(self) -> int:
        return len(self._units)

    def get(self, uid: str) -> LostUnit | None:
        return self._units.get(uid)

    def lose(self, event: Event, groups: frozenset[str], reason: str, now_ms: int) -> LostUnit:
        """Contact with ``event``'s unit was lost at ``now_ms``: keep its last report."""
        self._units.pop(event.uid, None)
        if len(self._units) >= self._limit:
            del self._units[next(iter(self._units))]
        unit = LostUnit(event, groups, now_ms, reason)
        self._units[event.uid] = unit
        return unit

    def found(self, uid: str) -> LostUnit | None:
        """``uid`` reported again: no longer lost. The unit it was, if it was."""
        return self._units.pop(uid, None)

    def visible_to(self, groups: frozenset[str]) -> list[LostUnit]:
        return [unit for unit in self._units.values() if unit.visible_to(groups)]

    def tick(self, now_ms: int) -> tuple[list[LostUnit], list[LostUnit]]:
        """(units whose last report went stale since the last tick, units forgotten now)."""
        gone_stale = [u for u in self._units.values() if not u.alerted and u.event.stale <= now_ms]
        for unit in gone_stale:
            unit.alerted = True
        forgotten = [u for u in self._units.values() if u.since + self._keep_ms <= now_ms]
        for unit in forgotten:
            del self._units[unit.event.uid]
        return gone_stale, forgotten
