"""TAK Data Sync: ``/Marti/api/missions…`` (reference §4.5), on the Marti API ports.

Missions are addressed by name (``/missions/{name}/…``) or by guid (``/missions/guid/{guid}/…``).
Answers use TAK Server's JSON envelope. Every handler resolves the mission through the
caller's groups first (a mission outside them is "not found"), then checks the role the
operation needs; :func:`~rallypoint.http.marti.missions_common.guarded` maps refusals to 4xx.
Contents, changes, logs and keywords are in :mod:`rallypoint.http.marti.missions_content`.
"""

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.timefmt import format_time
from rallypoint.http.marti.missions_archive import MissionArchive
from rallypoint.http.marti.missions_common import (
    Audit,
    Handler,
    MissionHandlers,
    PasswordGate,
    actor_of,
    flag,
    guarded,
    mission_ref,
)
from rallypoint.http.marti.missions_content import MissionContent
from rallypoint.http.marti.missions_create import MissionCreation
from rallypoint.http.marti.missions_external import MissionExternalData
from rallypoint.http.marti.missions_kml import MissionKml
from rallypoint.http.marti.missions_paged import paged_mission_routes
from rallypoint.http.marti.missions_share import DataFeeds, MissionSharing
from rallypoint.http.marti.missions_structure import MissionStructure
from rallypoint.http.marti.subscriptions import subscription_routes
from rallypoint.missions import requests as checks
from rallypoint.missions.access import Actor, is_member
from rallypoint.missions.credentials import hash_password
from rallypoint.missions.model import Mission, mission_json, subscription_json
from rallypoint.missions.roles import DELETE, READ, SET_PASSWORD, SET_ROLE, check_role, role_json
from rallypoint.missions.service import MissionService

MISSION_TYPE = "Mission"
SUBSCRIPTION_TYPE = "com.bbn.marti.sync.model.MissionSubscription"
ROLE_TYPE = "MissionRole"
INVITATION_TYPE = "MissionInvitation"
PREFIX = "/Marti/api/missions"


class MartiMissions(MissionHandlers):
    """The mission handlers (one instance per API app)."""

    def mission(self, request: Request, actor: Actor) -> Mission:
        return self.service.find(actor, **mission_ref(request))

    async def index(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        tool = request.query_params.get("tool", "public")
        protected = flag(request, "passwordProtected")
        missions = [
            m
            for m in self.service.visible_missions(actor, tool or None)
            if protected or m.password_hash is None or is_member(m, actor.uid)
        ]
        return self.answer(MISSION_TYPE, [mission_json(m) for m in missions])

    async def get(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        mission = self.mission(request, actor)
        await self.service.authorize(mission, actor, READ)
        data = mission_json(mission, changes=flag(request, "changes"), logs=flag(request, "logs"))
        return self.answer(MISSION_TYPE, [data])

    async def delete(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid")
        mission = self.mission(request, actor)
        await self.service.change(mission, actor, DELETE, {"op": "delete"})
        return self.answer(MISSION_TYPE, [mission_json(mission)])

    async def delete_by_guid(self, request: Request) -> Response:
        """``DELETE /missions?guid=`` (node-tak's ``Mission.delete`` of a guid)."""
        guid = request.query_params.get("guid")
        if not guid:
            raise HTTPException(400, "guid (the mission to delete) is required")
        actor = actor_of(request, "creatorUid")
        mission = self.service.find(actor, guid=guid)
        await self.service.change(mission, actor, DELETE, {"op": "delete"})
        return self.answer(MISSION_TYPE, [mission_json(mission)])

    # subscriptions

    async def subscribe(self, request: Request) -> Response:
        actor = actor_of(request, "uid")
        if not request.query_params.get("uid"):
            raise HTTPException(400, "uid (the client uid to subscribe) is required")
        mission = self.mission(request, actor)
        subscription, token = await self.service.subscribe(mission, actor)
        return self.answer(SUBSCRIPTION_TYPE, subscription_json(mission, subscription, token), 201)

    async def unsubscribe(self, request: Request) -> Response:
        actor = actor_of(request, "uid")
        mission = self.mission(request, actor)
        if actor.uid not in mission.subscriptions:
            raise HTTPException(404, f"{actor.uid} is not subscribed to {mission.name!r}")
        await self.service.change(mission, actor, READ, {"op": "unsubscribe", "uid": actor.uid})
        return self.answer(MISSION_TYPE, [mission_json(mission)])

    async def subscription(self, request: Request) -> Response:
        actor = actor_of(request, "uid", "clientUid")
        mission = self.mission(request, actor)
        await self.service.authorize(mission, actor, READ)
        subscription = mission.subscriptions.get(actor.uid)
        if subscription is None:
            raise HTTPException(404, f"{actor.uid} is not subscribed to {mission.name!r}")
        return self.answer(SUBSCRIPTION_TYPE, subscription_json(mission, subscription, None))

    async def subscriptions(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        mission = self.mission(request, actor)
        await self.service.authorize(mission, actor, READ)
        return self.answer("MissionSubscription", sorted(mission.subscriptions))

    async def subscription_roles(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        mission = self.mission(request, actor)
        await self.service.authorize(mission, actor, READ)
        rows = [
            {
                "clientUid": s.uid,
                "username": s.username or "",
                "createTime": format_time(s.time),
                "role": role_json(mission.role_of(s.uid)),
            }
            for s in mission.subscriptions.values()
        ]
        return self.answer("MissionSubscription", rows)

    # roles, passwords, invitations

    async def role(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        mission = self.mission(request, actor)
        uid = await self.service.authorize(mission, actor, READ)
        return self.answer(ROLE_TYPE, role_json(mission.role_of(uid)))

    async def set_role(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid")
        target = request.query_params.get("clientUid") or request.query_params.get("username")
        if not target:
            raise HTTPException(400, "clientUid (whose role to set) is required")
        role = check_role(request.query_params.get("role", ""))
        mission = self.mission(request, actor)
        await self.service.change(mission, actor, SET_ROLE, {"op": "role", "uid": target, "role": role})
        return self.answer(ROLE_TYPE, role_json(role))

    async def set_password(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid")
        mission = self.mission(request, actor)
        body: dict[str, Any] = {"op": "password", "passwordHash": None}
        if request.method == "PUT":
            password = checks.check_password(request.query_params.get("password", ""))
            body["passwordHash"] = await asyncio.to_thread(hash_password, password)
        owner = actor._replace(password=None)
        await self.service.change(mission, owner, SET_PASSWORD, body)
        return self.answer(MISSION_TYPE, [mission_json(mission)])

    async def invite(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid")
        kind = checks.check_invitation_type(request.path_params["type"])
        invitee = request.path_params["invitee"]
        role = check_role(request.query_params.get("role") or "MISSION_SUBSCRIBER")
        mission = self.mission(request, actor)
        body = {"op": "invite", "type": kind, "invitee": invitee, "role": role}
        await self.service.change(mission, actor, SET_ROLE, body)
        return self.answer(INVITATION_TYPE, {"missionName": mission.name, "invitee": invitee, "type": kind})

    async def invitations(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        rows = [
            {
                "missionName": m.name,
                "missionGuid": m.guid,
                "invitee": i.invitee,
                "type": i.type,
                "creatorUid": i.creator,
                "createTime": format_time(i.time),
                "role": role_json(i.role),
            }
            for m in self.service.visible_missions(actor)
            for i in m.invitations
            if i.invitee in (actor.uid, actor.username) or (i.type == "group" and i.invitee in actor.groups)
        ]
        if request.url.path.endswith("/all/invitations"):
            return self.answer(INVITATION_TYPE, sorted({row["missionName"] for row in rows}))
        return self.answer(INVITATION_TYPE, rows)


def mission_routes(
    service: MissionService,
    audit: Audit = lambda kind, **fields: None,
    data_feeds: DataFeeds | None = None,
) -> list[BaseRoute]:
    """The Data Sync routes, specific paths before ``{name}`` ones, each also by ``guid/{guid}``.
    ``data_feeds`` are the server's feeds a mission may attach (``…/feed``).

    Every route that may check a mission password runs under one :class:`PasswordGate`."""
    settings = service.host.settings
    gate = PasswordGate(settings.mission_password_max_failures, service.host.counters, audit)
    marti = MartiMissions(service)
    content = MissionContent(service)
    creation = MissionCreation(service)
    structure = MissionStructure(service)
    archive = MissionArchive(service)
    kml = MissionKml(service)
    sharing = MissionSharing(service, archive, data_feeds or {})
    external = MissionExternalData(service)
    fixed = [
        Route(PREFIX, guarded(marti.index), methods=["GET"]),
        *paged_mission_routes(service),
        Route(PREFIX, guarded(marti.delete_by_guid), methods=["DELETE"]),
        Route(f"{PREFIX}/invitations", guarded(marti.invitations), methods=["GET"]),
        Route(f"{PREFIX}/all/invitations", guarded(marti.invitations), methods=["GET"]),
        Route(f"{PREFIX}/all/subscriptions", guarded(structure.all_subscriptions), methods=["GET"]),
        Route(f"{PREFIX}/logs/entries", guarded(content.post_log), methods=["POST", "PUT"]),
        Route(f"{PREFIX}/logs/entries/{{id}}", guarded(content.delete_log), methods=["DELETE"]),
        Route(f"{PREFIX}/logs/entries/{{id}}", guarded(content.get_log), methods=["GET"]),
    ]
    per_mission: list[tuple[str, Handler, list[str]]] = [
        ("", marti.get, ["GET"]),
        ("/subscription", marti.subscribe, ["PUT"]),
        ("/subscription", marti.unsubscribe, ["DELETE"]),
        ("/subscription", marti.subscription, ["GET"]),
        ("/subscriptions", marti.subscriptions, ["GET"]),
        ("/subscriptions/roles", marti.subscription_roles, ["GET"]),
        ("/role", marti.role, ["GET"]),
        ("/role", marti.set_role, ["PUT"]),
        ("/password", marti.set_password, ["PUT", "DELETE"]),
        ("/invite/{type}/{invitee}", marti.invite, ["PUT"]),
        *content.per_mission(),
        *structure.per_mission(),
        *archive.per_mission(),
        *kml.per_mission(),
        *sharing.per_mission(),
        *external.per_mission(),
    ]
    host = service.host
    routes: list[BaseRoute] = [
        *fixed,
        *kml.routes(),
        *subscription_routes(host.router, marti.node, host.now_ms),
    ]
    for base in (f"{PREFIX}/guid/{{guid}}", f"{PREFIX}/{{name}}"):
        routes.extend(
            Route(base + suffix, gate(handler), methods=methods) for suffix, handler, methods in per_mission
        )
    routes.append(Route(f"{PREFIX}/{{name}}", guarded(creation.create), methods=["PUT", "POST"]))
    routes.append(Route(f"{PREFIX}/{{name}}", guarded(marti.delete), methods=["DELETE"]))
    return routes
