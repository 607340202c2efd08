"""What the mission component learns from routed traffic.

A router observer (it runs on the routing path: quick, never raises) does three things:
remembers devices for assignment lookups; for an event with ``<marti><dest mission=…>``
forwards it to the mission's subscribers at once and queues adding its uid to the mission
(TAK's StreamingEndpointRewriteFilter behaviour); and queues objective answers (:mod:`acks`).
Queued jobs run on the ledger's queue, one at a time in arrival order, so journal writes
never run on the routing path.
"""

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits
from rallypoint.missions.access import is_member
from rallypoint.missions.acks import Answer, find_answer
from rallypoint.missions.announce import to_subscribers
from rallypoint.missions.ledger import MissionLedger
from rallypoint.missions.model import Mission
from rallypoint.missions.notify import NOTIFICATION_PREFIX
from rallypoint.missions.roles import WRITE, allows
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber


class Sender(NamedTuple):
    """A routed event's sender, as captured when it was routed."""

    uid: str | None
    callsign: str | None
    team: str | None
    groups: frozenset[str]
    name: str
    """Its identity, or a description for anonymous senders."""


AnswerHandler = Callable[[Answer, Sender], Awaitable[None]]
"""Takes a field answer to an objective (:meth:`rallypoint.missions.desk.ObjectiveDesk.answer`)."""


def sender_of(subscriber: Subscriber) -> Sender:
    return Sender(
        subscriber.uid,
        subscriber.callsign,
        subscriber.team,
        subscriber.in_groups,
        subscriber.identity or f"anonymous {subscriber.transport}",
    )


class FieldWatch:
    """The router observer of the mission component; its jobs run on the ledger's queue."""

    def __init__(self, ledger: MissionLedger, answer: AnswerHandler) -> None:
        self.ledger = ledger
        self._answer = answer
        settings = ledger.host.settings
        self._limits = XmlLimits(settings.max_event_bytes, settings.max_xml_depth)

    def start(self) -> None:
        self.ledger.host.router.observers.append(self.observe)
        self.ledger.start_jobs()

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.ledger.host.router.observers.remove(self.observe)
        await self.ledger.stop_jobs()

    async def drain(self) -> None:
        """Return once every queued job has run (tests, shutdown)."""
        await self.ledger.drain()

    # the observer

    def observe(self, message: Outbound, subscriber: Subscriber) -> None:
        """See the module docstring; called by the router for every routed event."""
        event = message.event
        if event.type.startswith(NOTIFICATION_PREFIX) or event.detail is None:
            return
        if event.detail.dests:
            for dest in event.detail.dests:
                if dest.mission or dest.mission_guid:
                    self._to_mission(event, message, subscriber, dest.mission, dest.mission_guid)
        answer = find_answer(event, self._limits)
        if answer is not None:
            sender = sender_of(subscriber)
            self.ledger.enqueue(lambda: self._answer(answer, sender))

    def _to_mission(
        self, event: Event, message: Outbound, subscriber: Subscriber, name: str | None, guid: str | None
    ) -> None:
        book = self.ledger.book
        mission = book.missions.get(guid) if guid else book.by_name(name or "")
        if mission is None or mission.groups.isdisjoint(subscriber.in_groups):
            self.ledger.host.counters.inc("mission_dest_unknown")
            return
        uid = subscriber.uid or subscriber.identity or ""
        if mission.password_hash is not None and not is_member(mission, uid):
            self.ledger.host.counters.inc("mission_dest_refused")
            return
        if not allows(mission.role_of(uid), WRITE):
            self.ledger.host.counters.inc("mission_dest_refused")
            return
        to_subscribers(self.ledger.host.send_to, mission, event, skip=subscriber.uid)
        details = item_details(event)
        xml = message.xml.decode("utf-8", "replace")
        self.ledger.enqueue(lambda: self._add_uid(mission, uid, event.uid, details, xml))
        self.ledger.host.counters.inc("mission_dest_added")

    async def _add_uid(
        self, mission: Mission, author: str, uid: str, details: dict[str, Any], xml: str
    ) -> None:
        async with self.ledger.locked():
            if self.ledger.book.missions.get(mission.guid) is not mission:
                return
            body = {"op": "add_content", "uids": [{"uid": uid, "details": details, "xml": xml}]}
            await self.ledger.commit(mission.guid, author, body)


def item_details(event: Event) -> dict[str, Any]:
    """TAK's UidDetails of a map item: its type, callsign and location."""
    details: dict[str, Any] = {
        "type": event.type,
        "location": {"lat": event.point.lat, "lon": event.point.lon},
    }
    if event.callsign:
        details["callsign"] = event.callsign
    return details
