"""Data Sync calls around a mission's shape (TAK Server's MissionApi, issue 14).

Expiration, layers (``/layers…``) and map layers (``/maplayers…``), the mission hierarchy
(``/parent/{parent}``, ``/parent``, ``/children``), who may be reached (``/contacts``), a
mission's invitations and uninvites, and ``/missions/all/subscriptions``. Every handler
resolves the mission through the caller's groups first (another group's mission is "not
found", 404) and then checks the permission TAK Server's annotation names.
"""

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rallypoint.cot.timefmt import format_time
from rallypoint.http.marti.missions_common import Handler, MissionHandlers, actor_of, mission_ref, read_json
from rallypoint.http.marti.missions_create import expiration_of
from rallypoint.missions import layers as shapes
from rallypoint.missions import requests as checks
from rallypoint.missions.access import Actor, is_member
from rallypoint.missions.model import Mission, mission_json
from rallypoint.missions.roles import DELETE, READ, SET_ROLE, WRITE, role_json

MISSION_TYPE = "Mission"
LAYER_TYPE = "MissionLayer"
MAP_LAYER_TYPE = "MapLayer"
INVITATION_TYPE = "MissionInvitation"
SUBSCRIPTION_TYPE = "MissionSubscription"


def own_uid(mission: Mission, actor: Actor) -> str:
    """For a call naming no client uid (TAK's expiration, parent and layer calls): the uid the
    caller's identity created the mission with or subscribed with, else its user name."""
    identity = actor.username or ""
    if mission.creator_user == identity:
        return mission.creator_uid
    mine = [s.uid for s in mission.subscriptions.values() if (s.username or "") == identity]
    return mine[0] if mine else actor.uid


def invitation_json(mission: Mission, index: int) -> dict[str, Any]:
    invitation = mission.invitations[index]
    return {
        "missionName": mission.name,
        "missionGuid": mission.guid,
        "invitee": invitation.invitee,
        "type": invitation.type,
        "creatorUid": invitation.creator,
        "createTime": format_time(invitation.time),
        "role": role_json(invitation.role),
    }


class MissionStructure(MissionHandlers):
    """The handlers; ``per_mission`` lists them for the name and guid routes."""

    def per_mission(self) -> list[tuple[str, Handler, list[str]]]:
        return [
            ("/expiration", self.set_expiration, ["PUT"]),
            ("/layers", self.list_layers, ["GET"]),
            ("/layers", self.add_layer, ["PUT"]),
            ("/layers", self.delete_layers, ["DELETE"]),
            ("/layers/parent", self.move_layers, ["PUT"]),
            ("/layers/{layer}", self.get_layer, ["GET"]),
            ("/layers/{layer}/name", self.rename_layer, ["PUT"]),
            ("/layers/{layer}/position", self.position_layer, ["PUT"]),
            ("/maplayers", self.add_map_layer, ["POST"]),
            ("/maplayers", self.update_map_layer, ["PUT"]),
            ("/maplayers/{uid}", self.delete_map_layer, ["DELETE"]),
            ("/parent", self.get_parent, ["GET"]),
            ("/parent", self.clear_parent, ["DELETE"]),
            ("/parent/guid/{parent_guid}", self.set_parent, ["PUT"]),
            ("/parent/{parent}", self.set_parent, ["PUT"]),
            ("/children", self.children, ["GET"]),
            ("/contacts", self.contacts, ["GET"]),
            ("/invitations", self.invitations, ["GET"]),
            ("/invite/{type}/{invitee}", self.uninvite, ["DELETE"]),
        ]

    def _actor(self, request: Request, *uid_params: str) -> tuple[Mission, Actor]:
        """The mission and who acts on it: the client uid named, else the caller's own uid there."""
        params = uid_params or ("creatorUid", "clientUid")
        actor = actor_of(request, *params)
        mission = self.service.find(actor, **mission_ref(request))
        if not any(request.query_params.get(name) for name in params):
            actor = actor._replace(uid=own_uid(mission, actor))
        return mission, actor

    async def _authorized(self, request: Request, permission: str, *uid_params: str) -> tuple[Mission, Actor]:
        mission, actor = self._actor(request, *uid_params)
        await self.service.authorize(mission, actor, permission)
        return mission, actor

    async def _change(self, request: Request, permission: str, body: dict[str, Any]) -> Mission:
        mission, actor = self._actor(request)
        await self.service.change(mission, actor, permission, body)
        return mission

    # expiration

    async def set_expiration(self, request: Request) -> Response:
        """``PUT …/expiration?expiration=<epoch s>`` (absent or -1: never). An owner's call."""
        expiration = expiration_of(request.query_params.get("expiration")) or -1
        mission = await self._change(request, DELETE, {"op": "update", "fields": {"expiration": expiration}})
        return self.answer(MISSION_TYPE, [mission_json(mission)])

    # layers

    async def list_layers(self, request: Request) -> Response:
        mission, _actor = await self._authorized(request, READ)
        return self.answer(LAYER_TYPE, shapes.layers_json(mission))

    async def get_layer(self, request: Request) -> Response:
        mission, _actor = await self._authorized(request, READ)
        uid = shapes.existing_layer(mission, request.path_params["layer"])
        return self.answer(LAYER_TYPE, shapes.layer_json(mission, uid))

    async def add_layer(self, request: Request) -> Response:
        query = request.query_params
        actor = actor_of(request, "creatorUid")
        mission = self.service.find(actor, **mission_ref(request))
        body = shapes.new_layer(
            mission,
            name=query.get("name", ""),
            kind=query.get("type", ""),
            uid=query.get("uid"),
            parent=query.get("parentUid"),
            after=query.get("afterUid"),
        )
        await self.service.change(mission, actor, WRITE, body)
        return self.answer(LAYER_TYPE, shapes.layer_json(mission, body["layer"]["uid"]))

    async def rename_layer(self, request: Request) -> Response:
        mission, _actor = await self._authorized(request, WRITE)
        uid = shapes.existing_layer(mission, request.path_params["layer"])
        name = shapes.check_layer_name(request.query_params.get("name", ""))
        await self._change(request, WRITE, {"op": "layer", "action": "rename", "uid": uid, "name": name})
        return Response(status_code=200)

    async def position_layer(self, request: Request) -> Response:
        mission, _actor = await self._authorized(request, WRITE)
        uid = shapes.existing_layer(mission, request.path_params["layer"])
        after = shapes.check_uid(request.query_params.get("afterUid"), "afterUid")
        body = {"op": "layer", "action": "move", "uid": uid, "parent": mission.layers[uid].parent}
        await self._change(request, WRITE, {**body, "after": after})
        return Response(status_code=200)

    async def move_layers(self, request: Request) -> Response:
        """``PUT …/layers/parent?layerUid=…&parentUid=&afterUid=``: each after its predecessor."""
        mission, _actor = await self._authorized(request, WRITE)
        query = request.query_params
        parent = shapes.check_uid(query.get("parentUid"), "parentUid")
        after = shapes.check_uid(query.get("afterUid"), "afterUid")
        uids = [shapes.existing_layer(mission, uid) for uid in query.getlist("layerUid")]
        if not uids:
            raise HTTPException(400, "layerUid is required")
        for uid in uids:
            shapes.check_parent(mission, uid, parent)
            body = {"op": "layer", "action": "move", "uid": uid, "parent": parent, "after": after}
            await self._change(request, WRITE, body)
            after = uid
        return Response(status_code=200)

    async def delete_layers(self, request: Request) -> Response:
        mission, _actor = await self._authorized(request, WRITE)
        uids = [shapes.existing_layer(mission, uid) for uid in request.query_params.getlist("uid")]
        if not uids:
            raise HTTPException(400, "uid (the layers to delete) is required")
        for uid in uids:
            if uid in mission.layers:
                await self._change(request, WRITE, {"op": "layer", "action": "delete", "uid": uid})
        return Response(status_code=200)

    # map layers

    async def add_map_layer(self, request: Request) -> Response:
        return await self._put_map_layer(request, new=True)

    async def update_map_layer(self, request: Request) -> Response:
        return await self._put_map_layer(request, new=False)

    async def _put_map_layer(self, request: Request, *, new: bool) -> Response:
        actor = actor_of(request, "creatorUid")
        mission = self.service.find(actor, **mission_ref(request))
        layer = shapes.check_map_layer(await read_json(request, self.limit), mission, new=new)
        layer["creatorUid"] = actor.uid
        now = format_time(self.service.host.now_ms())
        earlier = mission.map_layers.get(layer["uid"], {}).get("createTime")
        layer["createTime"] = earlier if isinstance(earlier, str) else now
        layer["modifiedTime"] = now
        await self.service.change(mission, actor, WRITE, {"op": "map_layer", "action": "put", "layer": layer})
        return self.answer(MAP_LAYER_TYPE, layer)

    async def delete_map_layer(self, request: Request) -> Response:
        mission, _actor = await self._authorized(request, WRITE, "creatorUid")
        uid = request.path_params["uid"]
        if uid not in mission.map_layers:
            raise HTTPException(404, f"no map layer {uid!r} in {mission.name!r}")
        await self._change(request, WRITE, {"op": "map_layer", "action": "delete", "uid": uid})
        return Response(status_code=200)

    # hierarchy

    async def set_parent(self, request: Request) -> Response:
        """``PUT …/{child}/parent/{parent}``: the parent must be visible to the caller too."""
        mission, actor = await self._authorized(request, WRITE)
        params = request.path_params
        if "parent_guid" in params:
            parent = self.service.find(actor, guid=params["parent_guid"])
        else:
            parent = self.service.find(actor, name=checks.check_name(params["parent"]))
        ancestor: Mission | None = parent
        for _level in range(len(self.service.book.missions) + 1):
            if ancestor is None:
                break
            if ancestor.guid == mission.guid:
                raise HTTPException(400, "a mission cannot be its own ancestor")
            ancestor = self.service.book.missions.get(ancestor.parent or "")
        body = {"op": "parent", "parent": parent.guid, "parentName": parent.name}
        await self._change(request, WRITE, body)
        return Response(status_code=200)

    async def clear_parent(self, request: Request) -> Response:
        await self._change(request, WRITE, {"op": "parent", "parent": None})
        return Response(status_code=200)

    async def get_parent(self, request: Request) -> Response:
        mission, actor = await self._authorized(request, READ)
        parent = self.service.book.missions.get(mission.parent or "")
        visible = {m.guid for m in self.service.visible_missions(actor)}
        if parent is None or parent.guid not in visible:
            raise HTTPException(404, f"{mission.name!r} has no parent mission")
        return self.answer(MISSION_TYPE, mission_json(parent))

    async def children(self, request: Request) -> Response:
        mission, actor = await self._authorized(request, READ)
        rows = [mission_json(m) for m in self.service.visible_missions(actor) if m.parent == mission.guid]
        return self.answer(MISSION_TYPE, rows)

    # who

    async def contacts(self, request: Request) -> Response:
        """Connected clients that can receive from the mission's groups (a bare list, as TAK's)."""
        mission, actor = await self._authorized(request, READ)
        rows = [
            {
                "uid": client.uid,
                "callsign": client.callsign or "",
                "team": client.team or "",
                "role": client.role or "",
                "takv": "",
                "notes": "",
                "filterGroups": sorted(client.groups & mission.groups & actor.groups),
            }
            for client in self.service.host.router.registry.clients()
            if client.uid is not None and not client.groups.isdisjoint(mission.groups & actor.groups)
        ]
        rows.sort(key=lambda row: (str(row["callsign"]), str(row["uid"])))
        return JSONResponse(rows)

    async def invitations(self, request: Request) -> Response:
        mission, _actor = await self._authorized(request, READ)
        rows = [invitation_json(mission, index) for index in range(len(mission.invitations))]
        return self.answer(INVITATION_TYPE, rows)

    async def uninvite(self, request: Request) -> Response:
        """``DELETE …/invite/{type}/{invitee}?creatorUid=``: by whoever may invite (an owner)."""
        actor = actor_of(request, "creatorUid")
        mission = self.service.find(actor, **mission_ref(request))
        kind = checks.check_invitation_type(request.path_params["type"])
        invitee = request.path_params["invitee"]
        await self.service.authorize(mission, actor, SET_ROLE)
        if not any((i.type, i.invitee) == (kind, invitee) for i in mission.invitations):
            raise HTTPException(404, f"no invitation of {kind} {invitee} to {mission.name!r}")
        body = {"op": "uninvite", "type": kind, "invitee": invitee}
        await self.service.change(mission, actor, SET_ROLE, body)
        return Response(status_code=200)

    async def all_subscriptions(self, request: Request) -> Response:
        """``GET /missions/all/subscriptions``: ``{mission: client uid}`` pairs (TAK's
        ``Map.Entry`` list) of the missions the caller could read without a password."""
        actor = actor_of(request, "clientUid")
        rows = [
            {mission.name: uid}
            for mission in self.service.visible_missions(actor)
            if is_member(mission, actor.uid) or (mission.password_hash is None and not mission.invite_only)
            for uid in sorted(mission.subscriptions)
        ]
        return self.answer(SUBSCRIPTION_TYPE, rows)
