"""Objectives: a point or area to act on, and its lifecycle as a pure state machine.

designated → assigned → acknowledged → in_progress → done, or cancelled from any open state.
An assigned objective may be re-assigned (back to ``assigned``); ``in_progress`` may be
reached straight from ``assigned`` (starting implies acknowledging). Every transition is a
:class:`Step` with its author and time, which the caller passes in: nothing here reads a clock.
"""

import math
from dataclasses import dataclass, replace
from typing import Any

from rallypoint.errors import InvalidMissionRequest, MissionConflict

DESIGNATED = "designated"
ASSIGNED = "assigned"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
DONE = "done"
CANCELLED = "cancelled"

STATES = (DESIGNATED, ASSIGNED, ACKNOWLEDGED, IN_PROGRESS, DONE, CANCELLED)
OPEN_STATES = frozenset({DESIGNATED, ASSIGNED, ACKNOWLEDGED, IN_PROGRESS})

TRANSITIONS: dict[str, frozenset[str]] = {
    DESIGNATED: frozenset({ASSIGNED, CANCELLED}),
    ASSIGNED: frozenset({ASSIGNED, ACKNOWLEDGED, IN_PROGRESS, CANCELLED}),
    ACKNOWLEDGED: frozenset({ASSIGNED, IN_PROGRESS, DONE, CANCELLED}),
    IN_PROGRESS: frozenset({ASSIGNED, DONE, CANCELLED}),
    DONE: frozenset(),
    CANCELLED: frozenset(),
}
"""Allowed next states; ``assigned`` is reached only through :func:`assign`."""

PRIORITIES = ("low", "normal", "high", "critical")
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 4000
MAX_ASSIGNEE_CHARS = 200
MAX_VERTICES = 500
"""An area with more vertices is refused (a drawn shape has tens)."""


@dataclass(frozen=True)
class Step:
    """One recorded transition."""

    state: str
    author: str
    time: int


@dataclass(frozen=True)
class Geometry:
    """A point (one vertex) or a polygon ring (first vertex not repeated), as (lat, lon) pairs."""

    kind: str
    """``Point`` or ``Polygon``, as GeoJSON names them."""
    vertices: tuple[tuple[float, float], ...]

    @property
    def center(self) -> tuple[float, float]:
        """Where the marker goes: the point, or the mean of the ring's vertices."""
        lats = [lat for lat, _ in self.vertices]
        lons = [lon for _, lon in self.vertices]
        return sum(lats) / len(lats), sum(lons) / len(lons)

    def to_geojson(self) -> dict[str, Any]:
        """GeoJSON (longitude first), the ring closed as GeoJSON requires."""
        if self.kind == "Point":
            lat, lon = self.vertices[0]
            return {"type": "Point", "coordinates": [lon, lat]}
        ring = [[lon, lat] for lat, lon in self.vertices]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@dataclass(frozen=True)
class Objective:
    """One objective's current state; replaced, never mutated."""

    id: str
    mission: str
    """The mission's guid."""
    title: str
    description: str
    priority: str
    due: int | None
    geometry: Geometry
    creator: str
    assignee: str | None = None
    state: str = DESIGNATED
    history: tuple[Step, ...] = ()
    assigned_at: int | None = None
    escalated: bool = False

    @property
    def short_id(self) -> str:
        """``OBJ-`` plus the first 8 hex digits: what a person types in a GeoChat answer."""
        return "OBJ-" + self.id.replace("-", "")[:8].upper()

    @property
    def awaiting_ack(self) -> bool:
        """Assigned and not yet acknowledged by the assignee."""
        return self.state == ASSIGNED


def designate(
    objective_id: str,
    mission: str,
    fields: dict[str, Any],
    author: str,
    now: int,
) -> Objective:
    """A new objective from validated request ``fields`` (see :func:`check_fields`)."""
    objective = Objective(
        id=objective_id,
        mission=mission,
        title=fields["title"],
        description=fields["description"],
        priority=fields["priority"],
        due=fields["due"],
        geometry=fields["geometry"],
        creator=author,
        history=(Step(DESIGNATED, author, now),),
    )
    assignee = fields.get("assignee")
    return assign(objective, assignee, author, now) if assignee else objective


def assign(objective: Objective, assignee: str, author: str, now: int) -> Objective:
    """Give the objective to a team, callsign or uid; the acknowledgement clock restarts."""
    _check_move(objective, ASSIGNED)
    return replace(
        objective,
        assignee=assignee,
        state=ASSIGNED,
        history=(*objective.history, Step(ASSIGNED, author, now)),
        assigned_at=now,
        escalated=False,
    )


def transition(objective: Objective, state: str, author: str, now: int) -> Objective:
    """Move to ``state`` (not ``assigned``: use :func:`assign`)."""
    if state not in STATES:
        raise InvalidMissionRequest(f"unknown state {state!r} (one of {', '.join(STATES)})")
    if state == ASSIGNED:
        raise InvalidMissionRequest("use assign to assign an objective")
    _check_move(objective, state)
    return replace(objective, state=state, history=(*objective.history, Step(state, author, now)))


def escalate(objective: Objective) -> Objective:
    """Mark the current assignment as escalated (so it is escalated once)."""
    return replace(objective, escalated=True)


def _check_move(objective: Objective, state: str) -> None:
    if state not in TRANSITIONS[objective.state]:
        raise MissionConflict(f"objective {objective.short_id} is {objective.state}: cannot become {state}")


def escalation_due(objective: Objective, now: int, deadline_ms: int) -> bool:
    """Still unacknowledged ``deadline_ms`` after assignment, and not yet escalated."""
    return (
        objective.awaiting_ack
        and not objective.escalated
        and objective.assigned_at is not None
        and now - objective.assigned_at >= deadline_ms
    )


def check_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Validated objective fields from a JSON body: title, description, priority, due, geometry, assignee."""
    title = _text(body, "title", MAX_TITLE_CHARS, required=True)
    priority = body.get("priority", "normal")
    if priority not in PRIORITIES:
        raise InvalidMissionRequest(f"priority must be one of {', '.join(PRIORITIES)}")
    due = body.get("due")
    if due is not None and (not isinstance(due, int) or isinstance(due, bool) or due < 0):
        raise InvalidMissionRequest("due must be milliseconds since the epoch")
    assignee = _text(body, "assignee", MAX_ASSIGNEE_CHARS) or None
    return {
        "title": title,
        "description": _text(body, "description", MAX_DESCRIPTION_CHARS),
        "priority": priority,
        "due": due,
        "geometry": parse_geometry(body.get("geometry")),
        "assignee": assignee,
    }


def _text(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise InvalidMissionRequest(
            f"{name} must be {'a non-empty' if required else 'a'} string of at most {limit}"
        )
    return value.strip()


def parse_geometry(value: Any) -> Geometry:
    """A GeoJSON Point or Polygon (outer ring only) as a :class:`Geometry`."""
    if not isinstance(value, dict):
        raise InvalidMissionRequest("geometry must be a GeoJSON Point or Polygon")
    kind, coordinates = value.get("type"), value.get("coordinates")
    if kind == "Point":
        return Geometry("Point", (_position(coordinates),))
    if kind == "Polygon" and isinstance(coordinates, list) and coordinates:
        ring = coordinates[0]
        if not isinstance(ring, list) or not 4 <= len(ring) <= MAX_VERTICES + 1:
            raise InvalidMissionRequest(f"a polygon ring needs 4 to {MAX_VERTICES + 1} positions")
        vertices = tuple(_position(position) for position in ring)
        if vertices[0] == vertices[-1]:
            vertices = vertices[:-1]
        return Geometry("Polygon", vertices)
    raise InvalidMissionRequest("geometry must be a GeoJSON Point or Polygon")


def _position(value: Any) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) in (2, 3)):
        raise InvalidMissionRequest("a position is [lon, lat]")
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in value):
        raise InvalidMissionRequest("a position is [lon, lat] numbers")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidMissionRequest("a position must lie on the globe")
    return lat, lon


def objective_json(objective: Objective, mission_name: str) -> dict[str, Any]:
    """The web API's (and the live feed's) view of an objective."""
    return {
        "id": objective.id,
        "shortId": objective.short_id,
        "mission": mission_name,
        "title": objective.title,
        "description": objective.description,
        "priority": objective.priority,
        "due": objective.due,
        "state": objective.state,
        "assignee": objective.assignee,
        "geometry": objective.geometry.to_geojson(),
        "creator": objective.creator,
        "escalated": objective.escalated,
        "history": [{"state": s.state, "author": s.author, "time": s.time} for s in objective.history],
    }


def objective_record(objective: Objective) -> dict[str, Any]:
    """The journal's form of a newly designated objective (before any assignment)."""
    return {
        "id": objective.id,
        "title": objective.title,
        "description": objective.description,
        "priority": objective.priority,
        "due": objective.due,
        "geometry": objective.geometry.to_geojson(),
    }
