"""Objectives and checklists on missions: designate, assign, answer, re-send, escalate.

An assignment goes to the devices its assignee names (the router's device register,
:mod:`rallypoint.router.devices`) and, like every objective change, to the mission's
subscribers: the marker (so the map updates) and a Data Sync change. Until the assignee
acknowledges, the marker is re-sent to those of its devices that are connected every
``objective_resend_s``; after ``objective_ack_deadline_s`` the owners get a GeoChat alert
and the change log an escalation, once per assignment.
"""

import functools
import logging
import uuid
from typing import TYPE_CHECKING, Any

from rallypoint.cot.xml import serialize_event
from rallypoint.errors import InvalidMissionRequest, MissionError, MissionForbidden
from rallypoint.missions import checklists, notify, objectives
from rallypoint.missions.access import Actor
from rallypoint.missions.acks import Answer
from rallypoint.missions.announce import to_subscribers
from rallypoint.missions.book import Applied
from rallypoint.missions.checklists import Checklist
from rallypoint.missions.model import Mission
from rallypoint.missions.objectives import Objective
from rallypoint.missions.roles import OWNER, WRITE

if TYPE_CHECKING:
    from rallypoint.missions.field import Sender
    from rallypoint.missions.service import MissionService

log = logging.getLogger(__name__)

MAX_OBJECTIVES_PER_MISSION = 10_000
MAX_CHECKLISTS_PER_MISSION = 1_000


class ObjectiveDesk:
    """Objective and checklist operations of one :class:`MissionService`."""

    def __init__(self, service: "MissionService") -> None:
        self.service = service
        self._sent: dict[str, int] = {}
        """objective id -> when its marker last went to the assignees"""
        self._escalating: set[str] = set()
        """Objectives whose escalation is queued, so a slow store does not queue it twice."""

    # reading

    def visible(self, actor: Actor, mission: Mission | None = None) -> list[tuple[Mission, Objective]]:
        missions = [mission] if mission is not None else self.service.visible_missions(actor)
        return [(m, o) for m in missions for o in m.objectives.values()]

    def find(self, actor: Actor, objective_id: str) -> tuple[Mission, Objective]:
        self.service.store()
        mission, objective = self.service.book.objective(objective_id)
        self.service.find(actor, guid=mission.guid)
        return mission, objective

    def markers(self, mission: Mission) -> list[bytes]:
        """Every objective of ``mission`` as its current marker's XML (for ``/missions/{name}/cot``)."""
        now = self.service.host.now_ms()
        return [
            serialize_event(notify.objective_marker(o, mission, now)) for o in mission.objectives.values()
        ]

    # operations

    async def designate(self, mission: Mission, actor: Actor, fields: dict[str, Any]) -> Objective:
        if len(mission.objectives) >= MAX_OBJECTIVES_PER_MISSION:
            raise InvalidMissionRequest(
                f"mission {mission.name!r} has {MAX_OBJECTIVES_PER_MISSION} objectives"
            )
        record = objectives.objective_record(
            objectives.Objective(
                id=str(uuid.uuid4()),
                mission=mission.guid,
                title=fields["title"],
                description=fields["description"],
                priority=fields["priority"],
                due=fields["due"],
                geometry=fields["geometry"],
                creator=actor.uid,
            )
        )
        body = {
            "op": "objective",
            "action": "designate",
            "objective": record,
            "assignee": fields.get("assignee"),
        }
        applied = await self.service.change(mission, actor, WRITE, body)
        assert applied.objective is not None
        return applied.objective

    async def assign(self, actor: Actor, objective_id: str, assignee: str) -> Objective:
        mission, _ = self.find(actor, objective_id)
        uid = await self.service.authorize(mission, actor, WRITE)
        return await self._commit_checked(
            mission, uid, {"action": "assign", "id": objective_id, "assignee": assignee}
        )

    async def set_state(self, actor: Actor, objective_id: str, state: str) -> Objective:
        mission, _ = self.find(actor, objective_id)
        uid = await self.service.authorize(mission, actor, WRITE)
        return await self._commit_checked(
            mission, uid, {"action": "state", "id": objective_id, "state": state}
        )

    async def _commit_checked(self, mission: Mission, author: str, body: dict[str, Any]) -> Objective:
        """Re-check the move against the state under the lock (another change may have won), then commit."""
        async with self.service.lock:
            current = self.service.book.missions.get(mission.guid)
            objective = current.objectives.get(body["id"]) if current is not None else None
            if current is None or objective is None:
                raise MissionError(f"objective {body['id']} is gone")
            if body["action"] == "assign":
                objectives.assign(objective, body["assignee"], author, 0)
            elif body["action"] == "state":
                objectives.transition(objective, body["state"], author, 0)
            applied = await self.service.commit(mission.guid, author, {"op": "objective", **body})
        assert applied.objective is not None
        return applied.objective

    async def answer(self, answer: Answer, sender: "Sender") -> None:
        """A field answer (CoT reply or GeoChat) from ``sender``; ignored unless it is an assignee's."""
        found = self._by_answer(answer)
        if found is None:
            return
        mission, objective = found
        if sender.groups.isdisjoint(mission.groups) or not self._answers_for(mission, objective, sender):
            raise MissionForbidden(f"{sender.uid} may not answer for {objective.short_id}")
        if objective.state == answer.state:
            return  # the same answer twice (a re-sent marker echoed back)
        await self._commit_checked(
            mission, sender.uid or sender.name, {"action": "state", "id": objective.id, "state": answer.state}
        )

    def _by_answer(self, answer: Answer) -> tuple[Mission, Objective] | None:
        for mission in self.service.book.missions.values():
            for objective in mission.objectives.values():
                if (objective.short_id if answer.short else objective.id) == answer.objective:
                    return mission, objective
        return None

    def _answers_for(self, mission: Mission, objective: Objective, sender: "Sender") -> bool:
        if sender.uid and mission.role_of(sender.uid) == OWNER:
            return True
        assignee = objective.assignee
        if assignee is None:
            return False
        if assignee in (sender.uid, sender.callsign, sender.team):
            return True
        return sender.uid in self.service.host.router.devices.resolve(assignee, mission.groups)

    # checklists

    async def add_template(
        self, mission: Mission, actor: Actor, name: str, items: tuple[str, ...]
    ) -> Checklist:
        self._room_for_checklist(mission)
        body = {
            "op": "checklist",
            "action": "template",
            "id": str(uuid.uuid4()),
            "name": name,
            "items": list(items),
        }
        return self._checklist(await self.service.change(mission, actor, WRITE, body))

    async def start_checklist(
        self, mission: Mission, actor: Actor, template_id: str, name: str | None
    ) -> Checklist:
        self._room_for_checklist(mission)
        template = mission.checklists.get(template_id)
        if template is None or not template.is_template:
            raise InvalidMissionRequest(f"no checklist template {template_id!r} on {mission.name!r}")
        body = {
            "op": "checklist",
            "action": "start",
            "id": str(uuid.uuid4()),
            "template": template_id,
            "name": name,
        }
        return self._checklist(await self.service.change(mission, actor, WRITE, body))

    async def set_item(
        self, mission: Mission, actor: Actor, checklist_id: str, item: str, status: str
    ) -> Checklist:
        checklist = mission.checklists.get(checklist_id)
        if checklist is None:
            raise InvalidMissionRequest(f"no checklist {checklist_id!r} on {mission.name!r}")
        checklists.set_item(checklist, item, status, actor.uid, 0)
        body = {"op": "checklist", "action": "item", "id": checklist_id, "item": item, "status": status}
        return self._checklist(await self.service.change(mission, actor, WRITE, body))

    def _room_for_checklist(self, mission: Mission) -> None:
        if len(mission.checklists) >= MAX_CHECKLISTS_PER_MISSION:
            raise InvalidMissionRequest(
                f"mission {mission.name!r} has {MAX_CHECKLISTS_PER_MISSION} checklists"
            )

    @staticmethod
    def _checklist(applied: Applied) -> Checklist:
        assert applied.checklist is not None
        return applied.checklist

    # delivery

    def announce(self, applied: Applied, now: int) -> None:
        """Marker to assignees (on assignment) and subscribers, plus a Data Sync change."""
        objective, mission = applied.objective, applied.mission
        assert objective is not None
        action = applied.body.get("action")
        if action == "escalate":
            self._alert_owners(mission, objective, now)
            return
        marker = notify.objective_marker(objective, mission, now)
        targets = self._targets(mission, objective)
        if objective.awaiting_ack:
            self._sent[objective.id] = now
        for uid in targets:
            self.service.host.send_to(uid, marker)
        if action == "state" and objective.state not in objectives.OPEN_STATES:
            self._tell_finished(mission, objective, targets, applied.changes[0].author, now)
        for uid in list(mission.subscriptions):
            if uid not in targets:
                self.service.host.send_to(uid, marker)
        change = notify.changes_xml(mission, applied.changes)
        author = applied.changes[0].author
        to_subscribers(
            self.service.host.send_to,
            mission,
            notify.mission_event(notify.CHANGED, mission, now, author=author, inner=change),
        )

    def _tell_finished(
        self, mission: Mission, objective: Objective, targets: list[str], author: str | None, now: int
    ) -> None:
        """The assignee's devices get a chat line when their objective is done or cancelled:
        the marker's new state alone is easy to miss, and a cancelled task must stop."""
        state = objective.state.replace("_", " ").upper()
        text = f"{objective.short_id} {objective.title!r} on {mission.name}: {state}"
        if author:
            text += f" (by {author})"
        server_uid = self.service.host.settings.server_id
        for uid in targets:
            self.service.host.send_to(uid, notify.alert_chat(server_uid, uid, text, now))

    def _targets(self, mission: Mission, objective: Objective) -> list[str]:
        if objective.assignee is None:
            return []
        return self.service.host.router.devices.resolve(objective.assignee, mission.groups)

    def _alert_owners(self, mission: Mission, objective: Objective, now: int) -> None:
        minutes = round(self.service.host.settings.objective_ack_deadline_s / 60)
        text = (
            f"{objective.short_id} {objective.title!r} on {mission.name}: not acknowledged by "
            f"{objective.assignee} after {minutes} min"
        )
        server_uid = self.service.host.settings.server_id
        for owner in mission.owners():
            if self.service.host.router.devices.get(owner) is not None or owner in mission.subscriptions:
                self.service.host.send_to(owner, notify.alert_chat(server_uid, owner, text, now))

    def tick(self, now: int) -> None:
        """Re-send to connected assignees; queue escalations that are due."""
        settings = self.service.host.settings
        resend_ms = int(settings.objective_resend_s * 1000)
        deadline_ms = int(settings.objective_ack_deadline_s * 1000)
        registry = self.service.host.router.registry
        for mission in self.service.book.missions.values():
            for objective in mission.objectives.values():
                if not objective.awaiting_ack:
                    continue
                if (
                    objectives.escalation_due(objective, now, deadline_ms)
                    and objective.id not in self._escalating
                ):
                    self._escalating.add(objective.id)
                    self.service.field.enqueue(functools.partial(self._escalate, mission.guid, objective.id))
                last = self._sent.get(objective.id, objective.assigned_at or now)
                if now - last < resend_ms:
                    continue
                self._sent[objective.id] = now
                marker = notify.objective_marker(objective, mission, now)
                for uid in self._targets(mission, objective):
                    if registry.by_uid(uid) is not None:
                        self.service.host.send_to(uid, marker)

    async def _escalate(self, guid: str, objective_id: str) -> None:
        try:
            async with self.service.lock:
                current = self.service.book.missions.get(guid)
                objective = current.objectives.get(objective_id) if current is not None else None
                if objective is None or objective.escalated or not objective.awaiting_ack:
                    return
                body = {"op": "objective", "action": "escalate", "id": objective_id}
                await self.service.commit(guid, self.service.host.settings.server_id, body)
        finally:
            self._escalating.discard(objective_id)
