"""What the mission service learns from routed traffic, and the queue that acts on it.

A router observer (it runs on the routing path: quick, never raises) does three things:
remembers devices for assignment lookups; for an event with ``<marti><dest mission=…>``
forwards it to the mission's subscribers at once and queues adding its uid to the mission
(TAK's StreamingEndpointRewriteFilter behaviour); and queues objective answers (:mod:`acks`).
Queued jobs run one at a time on one task, in arrival order, so journal writes never
run on the routing path.
"""

import contextlib
import logging
from typing import TYPE_CHECKING, Any, NamedTuple

from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits
from rallypoint.errors import MissionError
from rallypoint.missions.access import is_member
from rallypoint.missions.acks import find_answer
from rallypoint.missions.announce import to_subscribers
from rallypoint.missions.model import Mission
from rallypoint.missions.notify import NOTIFICATION_PREFIX
from rallypoint.missions.roles import WRITE, allows
from rallypoint.router.jobs import Job, JobQueue
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber

if TYPE_CHECKING:
    from rallypoint.missions.service import MissionService

log = logging.getLogger(__name__)

MAX_QUEUED_JOBS = 10_000
"""Jobs waiting for the worker at most; past it new ones are dropped and counted."""


class Sender(NamedTuple):
    """A routed event's sender, as captured when it was routed."""

    uid: str | None
    callsign: str | None
    team: str | None
    groups: frozenset[str]
    name: str
    """Its identity, or a description for anonymous senders."""


def sender_of(subscriber: Subscriber) -> Sender:
    return Sender(
        subscriber.uid,
        subscriber.callsign,
        subscriber.team,
        subscriber.in_groups,
        subscriber.identity or f"anonymous {subscriber.transport}",
    )


class FieldWatch:
    """The router observer and the job queue of one :class:`MissionService`."""

    def __init__(self, service: "MissionService") -> None:
        self.service = service
        settings = service.host.settings
        self._limits = XmlLimits(settings.max_event_bytes, settings.max_xml_depth)
        self._jobs = JobQueue("rallypoint-missions", MAX_QUEUED_JOBS, (MissionError,), self._refused)

    def start(self) -> None:
        self.service.host.router.observers.append(self.observe)
        self._jobs.start()

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.service.host.router.observers.remove(self.observe)
        await self._jobs.stop()

    async def drain(self) -> None:
        """Return once every queued job has run (tests, shutdown)."""
        await self._jobs.drain()

    def enqueue(self, job: Job) -> bool:
        if not self._jobs.put(job):
            self.service.host.counters.inc("mission_jobs_dropped")
            return False
        return True

    def _refused(self, exc: Exception) -> None:
        self.service.host.counters.inc("mission_field_refused")
        log.info("missions: %s", exc)

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
            self.enqueue(lambda: self.service.desk.answer(answer, sender))

    def _to_mission(
        self, event: Event, message: Outbound, subscriber: Subscriber, name: str | None, guid: str | None
    ) -> None:
        book = self.service.book
        mission = book.missions.get(guid) if guid else book.by_name(name or "")
        if mission is None or mission.groups.isdisjoint(subscriber.in_groups):
            self.service.host.counters.inc("mission_dest_unknown")
            return
        uid = subscriber.uid or subscriber.identity or ""
        if mission.password_hash is not None and not is_member(mission, uid):
            self.service.host.counters.inc("mission_dest_refused")
            return
        if not allows(mission.role_of(uid), WRITE):
            self.service.host.counters.inc("mission_dest_refused")
            return
        to_subscribers(self.service.host.send_to, mission, event, skip=subscriber.uid)
        details = item_details(event)
        xml = message.xml.decode("utf-8", "replace")
        self.enqueue(lambda: self._add_uid(mission, uid, event.uid, details, xml))
        self.service.host.counters.inc("mission_dest_added")

    async def _add_uid(
        self, mission: Mission, author: str, uid: str, details: dict[str, Any], xml: str
    ) -> None:
        async with self.service.lock:
            if self.service.book.missions.get(mission.guid) is not mission:
                return
            body = {"op": "add_content", "uids": [{"uid": uid, "details": details, "xml": xml}]}
            await self.service.commit(mission.guid, author, body)


def item_details(event: Event) -> dict[str, Any]:
    """TAK's UidDetails of a map item: its type, callsign and location."""
    details: dict[str, Any] = {
        "type": event.type,
        "location": {"lat": event.point.lat, "lon": event.point.lon},
    }
    if event.callsign:
        details["callsign"] = event.callsign
    return details
