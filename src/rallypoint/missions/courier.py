"""Taking objective markers to the devices that must see them, and re-sending until answered.

An assignment goes to the devices its assignee names (the router's device register,
:mod:`rallypoint.router.devices`) and, like every objective change, to the mission's
subscribers: the marker (so the map updates) and a Data Sync change. Until the assignee
acknowledges, the marker is re-sent to those of its devices that are connected every
``objective_resend_s``; when it is done or cancelled they are also told by GeoChat. The
courier only sends: it reads the book and never changes it.
"""

from rallypoint.missions import notify, objectives
from rallypoint.missions.announce import to_subscribers
from rallypoint.missions.book import MissionBook
from rallypoint.missions.model import Applied, Mission
from rallypoint.missions.objectives import Objective
from rallypoint.router.host import Host


class ObjectiveCourier:
    """Sends objective markers and changes; remembers when each marker last went out."""

    def __init__(self, host: Host, book: MissionBook) -> None:
        self._host = host
        self._book = book
        self._sent: dict[str, int] = {}
        """objective id -> when its marker last went to the assignees"""

    def announce(self, applied: Applied, now: int) -> None:
        """Marker to assignees (on assignment) and subscribers, plus a Data Sync change."""
        objective, mission = applied.objective, applied.mission
        assert objective is not None
        action = applied.body.get("action")
        if action == "escalate":
            self._alert_owners(mission, objective, now)
            return
        marker = notify.objective_marker(objective, mission, now)
        targets = self.targets(mission, objective)
        if objective.awaiting_ack:
            self._sent[objective.id] = now
        send_to = self._host.send_to
        for uid in targets:
            send_to(uid, marker)
        if action == "state" and objective.state not in objectives.OPEN_STATES:
            self._tell_finished(mission, objective, targets, applied.changes[0].author, now)
        for uid in list(mission.subscriptions):
            if uid not in targets:
                send_to(uid, marker)
        change = notify.changes_xml(mission, applied.changes)
        author = applied.changes[0].author
        to_subscribers(
            send_to, mission, notify.mission_event(notify.CHANGED, mission, now, author=author, inner=change)
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
        server_uid = self._host.settings.server_id
        for uid in targets:
            self._host.send_to(uid, notify.alert_chat(server_uid, uid, text, now))

    def targets(self, mission: Mission, objective: Objective) -> list[str]:
        """The device uids the objective's assignee names among the mission's groups."""
        if objective.assignee is None:
            return []
        return self._host.router.devices.resolve(objective.assignee, mission.groups)

    def _alert_owners(self, mission: Mission, objective: Objective, now: int) -> None:
        settings = self._host.settings
        minutes = round(settings.objective_ack_deadline_s / 60)
        text = (
            f"{objective.short_id} {objective.title!r} on {mission.name}: not acknowledged by "
            f"{objective.assignee} after {minutes} min"
        )
        for owner in mission.owners():
            if self._host.router.devices.get(owner) is not None or owner in mission.subscriptions:
                self._host.send_to(owner, notify.alert_chat(settings.server_id, owner, text, now))

    def resend(self, now: int) -> None:
        """Re-send each unacknowledged marker, once per ``objective_resend_s``, to connected assignees."""
        resend_ms = int(self._host.settings.objective_resend_s * 1000)
        registry = self._host.router.registry
        for mission in self._book.missions.values():
            for objective in mission.objectives.values():
                if not objective.awaiting_ack:
                    continue
                last = self._sent.get(objective.id, objective.assigned_at or now)
                if now - last < resend_ms:
                    continue
                self._sent[objective.id] = now
                marker = notify.objective_marker(objective, mission, now)
                for uid in self.targets(mission, objective):
                    if registry.by_uid(uid) is not None:
                        self._host.send_to(uid, marker)
