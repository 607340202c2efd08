"""Objectives and checklists on missions: designate, assign, answer, escalate.

Every operation is checked and committed through the :class:`MissionLedger`; what reaches
devices afterwards is the courier's (:mod:`rallypoint.missions.courier`). An assignment not
acknowledged after ``objective_ack_deadline_s`` is escalated once: the change log records
it and the owners get a GeoChat alert.
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
from rallypoint.missions.checklists import Checklist
from rallypoint.missions.ledger import MissionLedger
from rallypoint.missions.model import Applied, Mission
from rallypoint.missions.objectives import Objective
from rallypoint.missions.roles import OWNER, WRITE

if TYPE_CHECKING:
    from rallypoint.missions.field import Sender

log = logging.getLogger(__name__)

MAX_OBJECTIVES_PER_MISSION = 10_000
MAX_CHECKLISTS_PER_MISSION = 1_000


class ObjectiveDesk:
    """Objective and checklist operations, on the mission ledger."""

    def __init__(self, ledger: MissionLedger) -> None:
        self.ledger = ledger
        self._escalating: set[str] = set()
        """Objectives whose escalation is queued, so a slow store does not queue it twice."""

    # reading

    def visible(self, actor: Actor, mission: Mission | None = None) -> list[tuple[Mission, Objective]]:
        missions = [mission] if mission is not None else self.ledger.visible_missions(actor)
        return [(m, o) for m in missions for o in m.objectives.values()]

    def find(self, actor: Actor, objective_id: str) -> tuple[Mission, Objective]:
        self.ledger.store()
        mission, objective = self.ledger.book.objective(objective_id)
        self.ledger.find(actor, guid=mission.guid)
        return mission, objective

    def markers(self, mission: Mission) -> list[bytes]:
        """Every objective of ``mission`` as its current marker's XML (for ``/missions/{name}/cot``)."""
        now = self.ledger.host.now_ms()
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
        applied = await self.ledger.change(mission, actor, WRITE, body)
        assert applied.objective is not None
        return applied.objective

    async def assign(self, actor: Actor, objective_id: str, assignee: str) -> Objective:
        mission, _ = self.find(actor, objective_id)
        uid = await self.ledger.authorize(mission, actor, WRITE)
        return await self._commit_checked(
            mission, uid, {"action": "assign", "id": objective_id, "assignee": assignee}
        )

    async def set_state(self, actor: Actor, objective_id: str, state: str) -> Objective:
        mission, _ = self.find(actor, objective_id)
        uid = await self.ledger.authorize(mission, actor, WRITE)
        return await self._commit_checked(
            mission, uid, {"action": "state", "id": objective_id, "state": state}
        )

    async def _commit_checked(self, mission: Mission, author: str, body: dict[str, Any]) -> Objective:
        """Re-check the move against the state under the lock (another change may have won), then commit."""
        async with self.ledger.locked():
            current = self.ledger.book.missions.get(mission.guid)
            objective = current.objectives.get(body["id"]) if current is not None else None
            if current is None or objective is None:
                raise MissionError(f"objective {body['id']} is gone")
            if body["action"] == "assign":
                objectives.assign(objective, body["assignee"], author, 0)
            elif body["action"] == "state":
                objectives.transition(objective, body["state"], author, 0)
            applied = await self.ledger.commit(mission.guid, author, {"op": "objective", **body})
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
        for mission in self.ledger.book.missions.values():
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
        return sender.uid in self.ledger.host.router.devices.resolve(assignee, mission.groups)

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
        return self._checklist(await self.ledger.change(mission, actor, WRITE, body))

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
        return self._checklist(await self.ledger.change(mission, actor, WRITE, body))

    async def set_item(
        self, mission: Mission, actor: Actor, checklist_id: str, item: str, status: str
    ) -> Checklist:
        checklist = mission.checklists.get(checklist_id)
        if checklist is None:
            raise InvalidMissionRequest(f"no checklist {checklist_id!r} on {mission.name!r}")
        checklists.set_item(checklist, item, status, actor.uid, 0)
        body = {"op": "checklist", "action": "item", "id": checklist_id, "item": item, "status": status}
        return self._checklist(await self.ledger.change(mission, actor, WRITE, body))

    def _room_for_checklist(self, mission: Mission) -> None:
        if len(mission.checklists) >= MAX_CHECKLISTS_PER_MISSION:
            raise InvalidMissionRequest(
                f"mission {mission.name!r} has {MAX_CHECKLISTS_PER_MISSION} checklists"
            )

    @staticmethod
    def _checklist(applied: Applied) -> Checklist:
        assert applied.checklist is not None
        return applied.checklist

    # escalation

    def tick(self, now: int) -> None:
        """Queue the escalations that are due (each once per assignment)."""
        deadline_ms = int(self.ledger.host.settings.objective_ack_deadline_s * 1000)
        for mission in self.ledger.book.missions.values():
            for objective in mission.objectives.values():
                if (
                    objective.awaiting_ack
                    and objectives.escalation_due(objective, now, deadline_ms)
                    and objective.id not in self._escalating
                ):
                    self._escalating.add(objective.id)
                    self.ledger.enqueue(functools.partial(self._escalate, mission.guid, objective.id))

    async def _escalate(self, guid: str, objective_id: str) -> None:
        try:
            async with self.ledger.locked():
                current = self.ledger.book.missions.get(guid)
                objective = current.objectives.get(objective_id) if current is not None else None
                if objective is None or objective.escalated or not objective.awaiting_ack:
                    return
                body = {"op": "objective", "action": "escalate", "id": objective_id}
                await self.ledger.commit(guid, self.ledger.host.settings.server_id, body)
        finally:
            self._escalating.discard(objective_id)
