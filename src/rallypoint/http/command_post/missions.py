"""The JSON API of the command post (web UI and ``rallypoint mission``/``objective`` commands).

Same service, same rules as Data Sync: the caller (:func:`~rallypoint.http.common.deps.caller_of`,
bound from a certificate, the plain port or the web session) sees only missions sharing one
of its groups and acts as the ``uid`` it names in the body (a device it speaks for) or as
its user name. Shapes are plain JSON, not TAK envelopes; objectives as
:func:`~rallypoint.missions.objectives.objective_json`.
"""

import asyncio
import functools
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.xml import XmlLimits
from rallypoint.http.marti.missions_common import (
    Audit,
    PasswordGate,
    actor_of,
    guarded,
    json_object,
    read_json,
)
from rallypoint.missions import requests as checks
from rallypoint.missions.access import Actor
from rallypoint.missions.announce import summary_json
from rallypoint.missions.checklists import check_template, checklist_json
from rallypoint.missions.credentials import hash_password
from rallypoint.missions.item_shapes import item_json
from rallypoint.missions.model import Mission, change_log_json, mission_json
from rallypoint.missions.objectives import check_fields, objective_json
from rallypoint.missions.roles import READ
from rallypoint.missions.service import MissionService


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise HTTPException(400, f"{name} must be a {'non-empty ' if required else ''}string")
    return value or None


class RestMissions:
    """Handlers of ``/api/missions…`` and ``/api/objectives…``."""

    def __init__(self, service: MissionService) -> None:
        self.service = service
        self.limit = service.host.settings.mission_max_body_bytes
        settings = service.host.settings
        self.xml_limits = XmlLimits(settings.max_event_bytes, settings.max_xml_depth)

    async def _body(self, request: Request) -> dict[str, Any]:
        return json_object(await read_json(request, self.limit))

    async def _actor(self, request: Request) -> tuple[Actor, dict[str, Any]]:
        body = await self._body(request)
        uid = _text(body, "uid")
        actor = actor_of(request, uid=uid)
        password = body.get("password")
        if isinstance(password, str) and password:
            actor = actor._replace(password=password)
        return actor, body

    async def _readable(self, request: Request, actor: Actor) -> Mission:
        mission = self.service.find(actor, name=request.path_params["name"])
        await self.service.authorize(mission, actor, READ)
        return mission

    async def index(self, request: Request) -> Response:
        actor = actor_of(request)
        return JSONResponse([summary_json(m) for m in self.service.visible_missions(actor)])

    async def create(self, request: Request) -> Response:
        actor, body = await self._actor(request)
        groups = body.get("groups")
        if groups is not None and not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
            raise HTTPException(400, "groups must be a list of group names")
        fields = checks.mission_fields(
            actor,
            _text(body, "name", required=True) or "",
            description=_text(body, "description") or "",
            groups=groups,
            tool=_text(body, "tool"),
            default_role=_text(body, "defaultRole"),
            keywords=body.get("keywords"),
        )
        password = _text(body, "password")
        if password:
            fields["passwordHash"] = await asyncio.to_thread(hash_password, checks.check_password(password))
        mission = await self.service.create(actor, fields)
        return JSONResponse(self._full(mission), status_code=201)

    async def get(self, request: Request) -> Response:
        actor = actor_of(request)
        actor = actor._replace(password=request.query_params.get("password") or None)
        return JSONResponse(self._full(await self._readable(request, actor)))

    def _full(self, mission: Mission) -> dict[str, Any]:
        data = mission_json(mission, logs=True)
        data["objectives"] = [objective_json(o, mission.name) for o in mission.objectives.values()]
        data["checklists"] = [checklist_json(c) for c in mission.checklists.values()]
        data["changeLog"] = [self._named(change_log_json(change)) for change in mission.changes]
        data["subscribers"] = sorted(mission.subscriptions)
        items = [item for uid, item in mission.uids.items() if uid not in mission.objectives]
        data["items"] = [item_json(item, self.xml_limits) for item in items]
        return data

    def _named(self, change: dict[str, Any]) -> dict[str, Any]:
        """The change with ``authorName``: the callsign its author's device uses (a uid means
        nothing to a commander reading the log), or the author as recorded."""
        author = change.get("author")
        name = author
        if isinstance(author, str):
            router = self.service.host.router
            device = router.devices.get(author)
            connected = router.registry.by_uid(author)
            callsign = device.callsign if device else None
            name = callsign or (connected.callsign if connected else None) or author
        change["authorName"] = name
        return change

    async def subscribe(self, request: Request) -> Response:
        actor, _ = await self._actor(request)
        mission = self.service.find(actor, name=request.path_params["name"])
        subscription, token = await self.service.subscribe(mission, actor)
        role = mission.role_of(subscription.uid)
        return JSONResponse({"mission": mission.name, "uid": subscription.uid, "role": role, "token": token})

    async def designate(self, request: Request) -> Response:
        actor, body = await self._actor(request)
        fields = check_fields(body)
        mission = self.service.find(actor, name=request.path_params["name"])
        objective = await self.service.desk.designate(mission, actor, fields)
        return JSONResponse(objective_json(objective, mission.name), status_code=201)

    async def objectives(self, request: Request) -> Response:
        actor = actor_of(request)
        name = request.query_params.get("mission")
        mission = self.service.find(actor, name=name) if name else None
        if mission is not None:
            await self.service.authorize(mission, actor, READ)
        rows = [objective_json(o, m.name) for m, o in self.service.desk.visible(actor, mission)]
        return JSONResponse(rows)

    async def assign(self, request: Request) -> Response:
        actor, body = await self._actor(request)
        assignee = _text(body, "assignee", required=True) or ""
        objective = await self.service.desk.assign(actor, request.path_params["id"], assignee[:200])
        return JSONResponse(objective_json(objective, self.service.book.missions[objective.mission].name))

    async def status(self, request: Request) -> Response:
        actor, body = await self._actor(request)
        state = _text(body, "state", required=True) or ""
        objective = await self.service.desk.set_state(actor, request.path_params["id"], state)
        return JSONResponse(objective_json(objective, self.service.book.missions[objective.mission].name))

    async def add_checklist(self, request: Request) -> Response:
        actor, body = await self._actor(request)
        name, items = check_template(body)
        mission = self.service.find(actor, name=request.path_params["name"])
        checklist = await self.service.desk.add_template(mission, actor, name, items)
        return JSONResponse(checklist_json(checklist), status_code=201)

    async def start_checklist(self, request: Request) -> Response:
        actor, body = await self._actor(request)
        mission = self.service.find(actor, name=request.path_params["name"])
        name = _text(body, "name")
        checklist = await self.service.desk.start_checklist(mission, actor, request.path_params["id"], name)
        return JSONResponse(checklist_json(checklist), status_code=201)

    async def set_item(self, request: Request) -> Response:
        actor, body = await self._actor(request)
        mission = self.service.find(actor, name=request.path_params["name"])
        status = _text(body, "status", required=True) or ""
        params = request.path_params
        checklist = await self.service.desk.set_item(mission, actor, params["id"], params["item"], status)
        return JSONResponse(checklist_json(checklist))


def rest_routes(service: MissionService, audit: Audit = lambda kind, **fields: None) -> list[BaseRoute]:
    """The command post's mission, objective and checklist routes; those of one mission run
    under a :class:`PasswordGate` (the password may be in the body)."""
    rest = RestMissions(service)
    settings = service.host.settings
    gate = functools.partial(
        PasswordGate(settings.mission_password_max_failures, service.host.counters, audit), body_password=True
    )
    return [
        Route("/api/missions", guarded(rest.index), methods=["GET"]),
        Route("/api/missions", guarded(rest.create), methods=["POST"]),
        Route("/api/missions/{name}", gate(rest.get), methods=["GET"]),
        Route("/api/missions/{name}/subscribe", gate(rest.subscribe), methods=["POST"]),
        Route("/api/missions/{name}/objectives", gate(rest.designate), methods=["POST"]),
        Route("/api/missions/{name}/checklists", gate(rest.add_checklist), methods=["POST"]),
        Route("/api/missions/{name}/checklists/{id}/start", gate(rest.start_checklist), methods=["POST"]),
        Route("/api/missions/{name}/checklists/{id}/items/{item}", gate(rest.set_item), methods=["POST"]),
        Route("/api/objectives", guarded(rest.objectives), methods=["GET"]),
        Route("/api/objectives/{id}/assign", guarded(rest.assign), methods=["POST"]),
        Route("/api/objectives/{id}/status", guarded(rest.status), methods=["POST"]),
    ]
