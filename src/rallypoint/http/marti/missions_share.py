"""Data Sync calls that hand a mission on (TAK Server's MissionApi, issue 14).

- ``PUT …/{name}/copy?creatorUid=&copyName=[&copyPath=&defaultRole=&password=]`` (``MISSION_READ``
  on the source): a new mission with the source's metadata, keywords, files, map items, map
  layers, feeds, external data and log entries; the caller's device is subscribed as its owner and the answer
  (201) carries that subscription's token. Deviation: the copy is placed in the source's groups
  the caller is in (TAK copies all of them), since nobody creates into groups they are not in.
- ``POST …/{name}/feed?creatorUid=&dataFeedUid=[&filterPolygon=x,y…&filterCotTypes=[json]&filterCallsign=]``
  and ``DELETE …/{name}/feed/{uid}?creatorUid=`` (``MISSION_WRITE``): attach or detach one of the
  server's data feeds (:mod:`rallypoint.missions.feeds`); a feed outside the caller's groups is
  "not found", as a mission is.
- ``POST …/{name}/invite?creatorUid=`` with a JSON list of MissionInvitations
  (``[{"type": "clientUid", "invitee": "…", "role": {"type": "MISSION_SUBSCRIBER"}}]``), or the
  older form ``?contacts=<uid>&contacts=…`` (clientUid invitations with the default role). As in
  TAK's ``validateRoleAssignment``, the caller may hand out only a role whose permissions it
  holds itself, and, on a mission without password, none below the default role (403).
- ``POST …/{name}/subscription?creatorUid=`` with ``[{"clientUid", "role"}]`` (``MISSION_SET_ROLE``):
  roles for subscribed devices, invitations with that role for the others (TAK's ``inviteOrUpdate``).
- ``POST …/{name}/send?contacts=<uid>&contacts=…`` (``MISSION_READ``): the mission's archive is
  kept as a data package of the caller's groups and offered to those devices with a ``b-f-t-r``
  file share whose uid is the package hash, routed as the caller (only devices sharing one of
  its groups receive it).
"""

import asyncio
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rallypoint.cot.xml import escape_attribute, parse_detail
from rallypoint.errors import InvalidMissionRequest, MissionForbidden, MissionNotFound, UploadTooLarge
from rallypoint.http.common.deps import envelope
from rallypoint.http.common.uploads import discard, receive_file, sanitize_name
from rallypoint.http.marti.missions_archive import PACKAGE_KEYWORD, ZIP_MEDIA_TYPE, MissionArchive
from rallypoint.http.marti.missions_common import (
    Handler,
    MissionHandlers,
    actor_of,
    mission_ref,
    read_json,
)
from rallypoint.http.marti.package_access import download_link, save_record
from rallypoint.http.marti.packages import fileshare_event
from rallypoint.missions import feeds as mission_feeds
from rallypoint.missions import requests as checks
from rallypoint.missions.access import Actor
from rallypoint.missions.credentials import hash_password
from rallypoint.missions.model import NEVER_EXPIRES, Mission, mission_json
from rallypoint.missions.roles import PERMISSIONS, READ, SET_ROLE, WRITE, check_role
from rallypoint.missions.service import MissionService
from rallypoint.store.base import TOOL_PRIVATE, PackageRecord

MISSION_TYPE = "Mission"
MAX_CONTACTS = 1000
"""Devices one invite or send call names at most."""
MAX_UID_CHARS = 256

DataFeeds = Mapping[str, frozenset[str]]
"""The server's data feeds: name (TAK's ``dataFeedUid``) -> the groups it routes into."""


def required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise HTTPException(400, f"{name} is required")
    return value


def contacts(request: Request) -> list[str]:
    """The ``contacts`` parameters (device uids), checked."""
    uids = list(dict.fromkeys(request.query_params.getlist("contacts")))
    if not uids:
        raise HTTPException(400, "contacts (the device uids) are required")
    if len(uids) > MAX_CONTACTS or not all(
        0 < len(uid) <= MAX_UID_CHARS and uid.isprintable() for uid in uids
    ):
        raise HTTPException(400, f"contacts are at most {MAX_CONTACTS} printable uids")
    return uids


def invitations(value: Any) -> list[tuple[str, str, str | None]]:
    """A JSON list of MissionInvitations as (type, invitee, role or None)."""
    if not isinstance(value, list) or not value or len(value) > MAX_CONTACTS:
        raise InvalidMissionRequest(f"the body must be a list of 1 to {MAX_CONTACTS} invitations")
    found: list[tuple[str, str, str | None]] = []
    for item in value:
        if not isinstance(item, dict) or not item.get("type") or not item.get("invitee"):
            raise InvalidMissionRequest("invitation found without type or invitee")
        invitee = item["invitee"]
        if not isinstance(invitee, str) or len(invitee) > MAX_UID_CHARS or not invitee.isprintable():
            raise InvalidMissionRequest(f"an invitee is 1 to {MAX_UID_CHARS} printable characters")
        role = item.get("role")
        name = role.get("type") if isinstance(role, dict) else role
        if name is not None and not isinstance(name, str):
            raise InvalidMissionRequest("an invitation's role is a MissionRole or a role name")
        found.append(
            (checks.check_invitation_type(str(item["type"])), invitee, check_role(name) if name else None)
        )
    return found


def subscription_roles(value: Any) -> list[tuple[str, str]]:
    """A JSON list of MissionSubscriptions as (client uid, role): TAK refuses one without either."""
    if not isinstance(value, list) or not value or len(value) > MAX_CONTACTS:
        raise InvalidMissionRequest(f"the body must be a list of 1 to {MAX_CONTACTS} subscriptions")
    rows: list[tuple[str, str]] = []
    for item in value:
        uid = item.get("clientUid") if isinstance(item, dict) else None
        role = item.get("role") if isinstance(item, dict) else None
        name = role.get("type") if isinstance(role, dict) else role
        if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_CHARS or not isinstance(name, str):
            raise InvalidMissionRequest("missing clientUid or role")
        rows.append((uid, check_role(name)))
    return rows


def may_assign(mission: Mission, holder: str, role: str) -> None:
    """TAK's ``validateRoleAssignment``: only roles within the holder's, none below the default."""
    if not set(PERMISSIONS[role]) <= set(PERMISSIONS[holder]):
        raise MissionForbidden(f"a {holder} may not hand out {role}")
    if mission.password_hash is None and not set(PERMISSIONS[mission.default_role]) <= set(PERMISSIONS[role]):
        raise MissionForbidden(f"{role} is below the mission's default role {mission.default_role}")


class MissionSharing(MissionHandlers):
    """The copy, feed, invite and send handlers."""

    def __init__(self, service: MissionService, archive: MissionArchive, data_feeds: DataFeeds) -> None:
        super().__init__(service)
        self.archive = archive
        self.data_feeds = data_feeds

    def per_mission(self) -> list[tuple[str, Handler, list[str]]]:
        return [
            ("/copy", self.copy, ["PUT"]),
            ("/feed", self.add_feed, ["POST"]),
            ("/feed/{uid}", self.remove_feed, ["DELETE"]),
            ("/invite", self.invite, ["POST"]),
            ("/subscription", self.set_roles, ["POST"]),
            ("/send", self.send, ["POST"]),
        ]

    def _source(self, request: Request, *uid_params: str) -> tuple[Mission, Actor]:
        actor = actor_of(request, *uid_params)
        return self.service.find(actor, **mission_ref(request)), actor

    # copy

    async def copy(self, request: Request) -> Response:
        required(request, "creatorUid")
        name = checks.check_name(required(request, "copyName"))
        source, actor = self._source(request, "creatorUid")
        actor = actor._replace(password=None)  # ``password`` is the copy's; the source needs a role
        await self.service.authorize(source, actor, READ)
        if self.service.book.by_name(name) is not None:
            raise InvalidMissionRequest(f"a mission named {name!r} exists")
        query = request.query_params
        fields = checks.mission_fields(
            actor,
            name,
            description=source.description,
            groups=sorted(source.groups & actor.groups),
            tool=source.tool,
            default_role=query.get("defaultRole"),
            keywords=source.keywords,
            invite_only=source.invite_only,
            chat_room=source.chat_room,
        )
        if query.get("password"):
            password = checks.check_password(query["password"])
            fields["passwordHash"] = await asyncio.to_thread(hash_password, password)
        copy = await self.service.create(actor, fields)
        _subscription, token = await self.service.subscribe(copy, actor)
        await self._fill(copy, source, actor, query.get("copyPath"))
        data = mission_json(copy)
        data["token"] = token
        return JSONResponse(envelope(MISSION_TYPE, [data], self.node), status_code=201)

    async def _fill(self, copy: Mission, source: Mission, actor: Actor, path: str | None) -> None:
        """Everything the source holds, journaled into the copy by its owner."""
        fields: dict[str, Any] = dict(source.descriptive)
        if path is not None:
            fields["path"] = checks.check_text(path, "copyPath")
        if source.expiration != NEVER_EXPIRES:
            fields["expiration"] = source.expiration
        bodies: list[dict[str, Any]] = []
        if fields:
            bodies.append({"op": "update", "fields": fields})
        resources = [resource for resource, _time, _creator in source.contents.values()]
        items = [
            {"uid": item.uid, "details": item.details, "xml": item.xml}
            for item in source.uids.values()
            if item.uid not in source.objectives
        ]
        if resources or items:
            bodies.append({"op": "add_content", "resources": resources, "uids": items})
        for layer in source.map_layers.values():
            bodies.append({"op": "map_layer", "action": "put", "layer": {**layer, "creatorUid": actor.uid}})
        bodies.extend(mission_feeds.copied_feed(feed) for feed in source.feeds.values())
        bodies.extend(
            {"op": "external_data", "action": "put", "data": data} for data in source.external_data.values()
        )
        for entry in source.logs.values():
            names = [*entry.get("missionNames", []), copy.name]
            bodies.append({"op": "log", "entry": {**entry, "missionNames": names}})
        for body in bodies:
            await self.service.change(copy, actor, WRITE, body)

    # feeds

    async def add_feed(self, request: Request) -> Response:
        required(request, "creatorUid")
        data_feed = required(request, "dataFeedUid")
        mission, actor = self._source(request, "creatorUid")
        await self.service.authorize(mission, actor, WRITE)
        groups = self.data_feeds.get(data_feed)
        if groups is None or groups.isdisjoint(actor.groups):
            raise MissionNotFound(f"no data feed {data_feed!r}")
        query = request.query_params
        body = mission_feeds.new_feed(
            mission,
            data_feed=data_feed,
            polygon=query.getlist("filterPolygon"),
            cot_types=query.get("filterCotTypes"),
            callsign=query.get("filterCallsign"),
        )
        await self.service.change(mission, actor, WRITE, body)
        return Response(status_code=200)

    async def remove_feed(self, request: Request) -> Response:
        required(request, "creatorUid")
        mission, actor = self._source(request, "creatorUid")
        await self.service.authorize(mission, actor, WRITE)
        uid = request.path_params["uid"]
        if uid not in mission.feeds:
            raise MissionNotFound(f"no mission feed {uid!r} in {mission.name!r}")
        await self.service.change(mission, actor, WRITE, {"op": "feed", "action": "delete", "uid": uid})
        return Response(status_code=200)

    # invitations

    async def invite(self, request: Request) -> Response:
        mission, actor = self._source(request, "creatorUid")
        holder_uid = await self.service.authorize(mission, actor, READ)
        body = await read_json(request, self.limit, required=False)
        if body is None:
            wanted: list[tuple[str, str, str | None]] = [
                ("clientUid", uid, None) for uid in contacts(request)
            ]
        else:
            wanted = invitations(body)
        holder = mission.role_of(holder_uid)
        chosen = [(kind, invitee, role or mission.default_role) for kind, invitee, role in wanted]
        for _kind, _invitee, role in chosen:
            may_assign(mission, holder, role)
        existing = {(i.type, i.invitee, i.role) for i in mission.invitations}
        for kind, invitee, role in dict.fromkeys(chosen):
            if (kind, invitee, role) not in existing:
                change = {"op": "invite", "type": kind, "invitee": invitee, "role": role}
                await self.service.change(mission, actor, READ, change)
        return Response(status_code=200)

    async def set_roles(self, request: Request) -> Response:
        """``POST …/subscription?creatorUid=`` with ``[{"clientUid", "role": {"type"}}]`` (TAK's
        ``setSubscriptionRole``, ``MISSION_SET_ROLE``): a subscribed device gets the role, any other
        an invitation with it; each role as :func:`may_assign` allows."""
        required(request, "creatorUid")
        mission, actor = self._source(request, "creatorUid")
        holder_uid = await self.service.authorize(mission, actor, SET_ROLE)
        rows = subscription_roles(await read_json(request, self.limit))
        holder = mission.role_of(holder_uid)
        for _uid, role in rows:
            may_assign(mission, holder, role)
        for uid, role in rows:
            body: dict[str, Any] = {"op": "role", "uid": uid, "role": role}
            if uid not in mission.subscriptions:
                body = {"op": "invite", "type": "clientUid", "invitee": uid, "role": role}
            await self.service.change(mission, actor, SET_ROLE, body)
        return Response(status_code=200)

    # send

    async def send(self, request: Request) -> Response:
        uids = contacts(request)
        mission, actor = self._source(request, "creatorUid", "clientUid")
        sender = await self.service.authorize(mission, actor, READ)
        record = await self._keep_archive(mission, actor)
        host = self.service.host
        link = download_link(request, host.settings, record.hash)
        offer = fileshare_event(record, link, sender, actor.username or sender, host.now_ms())
        assert offer.detail is not None
        dests = "".join(f'<dest uid="{escape_attribute(uid)}"/>' for uid in uids)
        offer = offer._replace(
            uid=record.hash, detail=parse_detail(f"{offer.detail.xml}<marti>{dests}</marti>")
        )
        host.inject(offer, actor.groups, actor.username)
        return self.answer(MISSION_TYPE, [mission_json(mission)])

    async def _keep_archive(self, mission: Mission, actor: Actor) -> PackageRecord:
        settings = self.service.host.settings
        spool = await self.archive.build(mission)
        try:
            received = await anyio.to_thread.run_sync(
                receive_file, spool, settings.data_dir, settings.upload_max_bytes
            )
        except UploadTooLarge as exc:
            raise HTTPException(413, str(exc)) from exc
        finally:
            spool.close()
        name = f"{sanitize_name(mission.name, 'mission')}.zip"
        record = PackageRecord(
            hash=received.sha256,
            name=name,
            filename=name,
            mime_type=ZIP_MEDIA_TYPE,
            size=received.size,
            submitter=actor.username,
            creator_uid=actor.uid,
            groups=mission.groups & actor.groups,
            keywords=(PACKAGE_KEYWORD,),
            tool=TOOL_PRIVATE,
            submitted=self.service.host.now_ms(),
            uid=received.sha256,
        )
        try:
            return await save_record(self.service.store(), received, record, settings.data_dir)
        finally:
            discard(received)
