"""``PUT``/``POST /Marti/api/missions/{name}``: create a mission, or update the one that exists.

TAK Server's semantics (MissionApi ``createMission``/``createMissionAllowDupe``):

- ``group`` is repeatable and comma-separated values count as several (Spring splits them);
  ``group=__ANON__`` (its default) from a caller outside ``__ANON__`` means the caller's groups.
- On a new mission the creator's device (``creatorUid``) is subscribed as owner and the
  answer carries that subscription's ``token`` (201).
- On an existing one (node-tak ``Mission.update``; ``POST`` with ``allowDupe=true`` is still a
  conflict: names are unique here) the parameters given are applied (200): text fields need
  ``MISSION_WRITE``, ``defaultRole`` ``MISSION_SET_ROLE``, ``password`` ``MISSION_SET_PASSWORD``,
  an ``expiration`` ``MISSION_DELETE`` (an expiry is a scheduled delete), and new groups
  ``MISSION_UPDATE_GROUPS`` with ``allowGroupChange=true``. Unlike TAK Server, a parameter left
  out keeps its value instead of being reset to its default.
"""

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rallypoint.errors import InvalidMissionRequest, MissionConflict, MissionForbidden
from rallypoint.http.common.deps import envelope
from rallypoint.http.marti.missions_common import MissionHandlers, actor_of, flag, json_object, read_json
from rallypoint.missions import requests as checks
from rallypoint.missions.access import Actor
from rallypoint.missions.credentials import hash_password
from rallypoint.missions.model import DESCRIPTIVE_FIELDS, NEVER_EXPIRES, Mission, mission_json
from rallypoint.missions.roles import (
    DELETE,
    READ,
    SET_PASSWORD,
    SET_ROLE,
    UPDATE_GROUPS,
    WRITE,
    check_role,
)

ANON_GROUP = "__ANON__"
MISSION_TYPE = "Mission"
MAX_EXPIRATION_S = 253_402_300_799
"""9999-12-31T23:59:59Z: an expiration past it is a mistake (milliseconds sent as seconds)."""


def requested_groups(request: Request, document: dict[str, Any], actor: Actor) -> list[str] | None:
    """The groups asked for (repeated or comma-joined ``group``, or the body's ``groups``)."""
    values = request.query_params.getlist("group")
    if not values and isinstance(document.get("groups"), list):
        values = [str(name) for name in document["groups"]]
    names = list(dict.fromkeys(part.strip() for value in values for part in value.split(",") if part.strip()))
    if not names:
        return None
    if names == [ANON_GROUP] and ANON_GROUP not in actor.groups:
        return sorted(actor.groups)
    return names


def expiration_of(text: str | None) -> int | None:
    """``expiration`` (epoch seconds, -1 for never), None when not given."""
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidMissionRequest("expiration must be epoch seconds or -1") from None
    if value != NEVER_EXPIRES and not 0 < value <= MAX_EXPIRATION_S:
        raise InvalidMissionRequest("expiration must be epoch seconds or -1")
    return value


class MissionCreation(MissionHandlers):
    """The create-or-update handler."""

    def reply(self, mission: Mission, status: int, token: str | None = None) -> Response:
        data = mission_json(mission)
        if token is not None:
            data["token"] = token
        return JSONResponse(envelope(MISSION_TYPE, [data], self.node), status_code=status)

    async def create(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid")
        name = checks.check_name(request.path_params["name"])
        body = await read_json(request, self.limit, required=False)
        document = json_object(body) if body is not None else {}
        existing = self.service.book.by_name(name)
        if existing is not None:
            mission = self.service.find(actor, name=name)  # another group's mission: 404, not 409
            if request.method == "POST" and flag(request, "allowDupe"):
                raise MissionConflict(f"a mission named {name!r} exists (names are unique here)")
            return await self.update(request, actor, mission, document)
        return await self._new(request, actor, name, document)

    async def _new(self, request: Request, actor: Actor, name: str, document: dict[str, Any]) -> Response:
        query = request.query_params
        fields = checks.mission_fields(
            actor,
            name,
            description=query.get("description") or str(document.get("description") or ""),
            groups=requested_groups(request, document, actor),
            tool=query.get("tool"),
            default_role=query.get("defaultRole"),
            keywords=document.get("keywords") or query.getlist("keyword") or None,
            invite_only=flag(request, "inviteOnly"),
            chat_room=query.get("chatRoom", ""),
        )
        password = query.get("password")
        if password:
            fields["passwordHash"] = await asyncio.to_thread(hash_password, checks.check_password(password))
        mission = await self.service.create(actor, fields)
        extra = self._descriptive(request, document, mission)
        expiration = expiration_of(query.get("expiration"))
        if expiration is not None and expiration != NEVER_EXPIRES:
            extra["expiration"] = expiration
        if extra:
            await self.service.change(mission, actor, WRITE, {"op": "update", "fields": extra})
        token = None
        if query.get("creatorUid"):
            _subscription, token = await self.service.subscribe(mission, actor)
        return self.reply(mission, 201, token)

    async def update(
        self, request: Request, actor: Actor, mission: Mission, document: dict[str, Any]
    ) -> Response:
        query = request.query_params
        fields, needed = self._descriptive(request, document, mission), {WRITE}
        for key, attribute in (("description", "description"), ("chatRoom", "chat_room")):
            value = query.get(key, document.get(key))
            if value is not None and str(value) != getattr(mission, attribute):
                fields[key] = checks.check_text(str(value), key)
        tool = query.get("tool")
        if tool and tool != mission.tool:
            fields["tool"] = checks.check_tool(tool)
        if query.get("inviteOnly") and flag(request, "inviteOnly") != mission.invite_only:
            fields["inviteOnly"] = flag(request, "inviteOnly")
        role = query.get("defaultRole")
        if role and check_role(role) != mission.default_role:
            fields["defaultRole"], needed = role, needed | {SET_ROLE}
        expiration = expiration_of(query.get("expiration"))
        if expiration is not None and expiration != mission.expiration:
            fields["expiration"], needed = expiration, needed | {DELETE}
        groups = requested_groups(request, document, actor)
        if groups is not None and frozenset(groups) != mission.groups:
            fields["groups"], needed = self._new_groups(request, actor, groups), needed | {UPDATE_GROUPS}
        password = query.get("password")
        if not fields and not password:
            await self.service.authorize(mission, actor, READ)
            return self.reply(mission, 200)
        for permission in sorted(needed):
            await self.service.authorize(mission, actor, permission)
        if password:
            digest = await asyncio.to_thread(hash_password, checks.check_password(password))
            await self.service.change(
                mission, actor, SET_PASSWORD, {"op": "password", "passwordHash": digest}
            )
        if fields:
            await self.service.change(mission, actor, WRITE, {"op": "update", "fields": fields})
        return self.reply(mission, 200)

    @staticmethod
    def _new_groups(request: Request, actor: Actor, groups: list[str]) -> list[str]:
        if not flag(request, "allowGroupChange"):
            raise MissionForbidden("changing a mission's groups needs allowGroupChange=true")
        if not frozenset(groups) <= actor.groups:
            outside = ", ".join(sorted(frozenset(groups) - actor.groups))
            raise MissionForbidden(f"you may not move a mission into groups you are not in: {outside}")
        return sorted(groups)

    @staticmethod
    def _descriptive(request: Request, document: dict[str, Any], mission: Mission) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key in DESCRIPTIVE_FIELDS:
            value = request.query_params.get(key, document.get(key))
            if value is not None and str(value) != mission.descriptive.get(key, ""):
                fields[key] = checks.check_text(str(value), key)
        return fields
