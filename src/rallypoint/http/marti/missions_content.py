"""Data Sync contents, keywords, change log, CoT and log entries of a mission (reference §4.5).

Data packages are added by hash (they must be in the package index and visible to the
caller); CoT items by uid, with their type, callsign and position taken from the situation
cache when the server has seen them.
"""

import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from rallypoint.cot.timefmt import format_time
from rallypoint.errors import MissionNotFound
from rallypoint.http.common.query import time_param
from rallypoint.http.marti.history import events_xml
from rallypoint.http.marti.missions_common import (
    Handler,
    MissionHandlers,
    actor_of,
    json_object,
    mission_ref,
    read_json,
)
from rallypoint.missions import requests as checks
from rallypoint.missions.access import Actor
from rallypoint.missions.field import item_details
from rallypoint.missions.layers import existing_layer
from rallypoint.missions.model import Mission, change_json, log_json, mission_json, tak_changes
from rallypoint.missions.roles import READ, WRITE
from rallypoint.store.base import PackageRecord

CHANGE_TYPE = "MissionChange"
LOG_TYPE = "com.bbn.marti.sync.model.LogEntry"
XML_MEDIA_TYPE = "application/xml"
MAX_SECAGO = 10 * 365 * 24 * 3600


def resource_json(record: PackageRecord) -> dict[str, Any]:
    """A Resource as TAK's JSON writes it."""
    return {
        "filename": record.filename,
        "keywords": list(record.keywords),
        "mimeType": record.mime_type,
        "name": record.name,
        "submissionTime": format_time(record.submitted),
        "submitter": record.submitter or "",
        "uid": record.uid,
        "creatorUid": record.creator_uid or "",
        "hash": record.hash,
        "size": record.size,
        "tool": record.tool,
        "expiration": -1,
    }


class MissionContent(MissionHandlers):
    """Handlers for the mission's contents and logs."""

    def per_mission(self) -> list[tuple[str, Handler, list[str]]]:
        return [
            ("/contents", self.add, ["PUT"]),
            ("/contents", self.remove, ["DELETE"]),
            ("/keywords", self.set_keywords, ["PUT"]),
            ("/keywords", self.clear_keywords, ["DELETE"]),
            ("/keywords/{keyword}", self.remove_keyword, ["DELETE"]),
            ("/uid/{uid}/keywords", self.set_item_keywords, ["PUT"]),
            ("/uid/{uid}/keywords", self.clear_item_keywords, ["DELETE"]),
            ("/content/{hash}/keywords", self.set_item_keywords, ["PUT"]),
            ("/content/{hash}/keywords", self.clear_item_keywords, ["DELETE"]),
            ("/changes", self.changes, ["GET"]),
            ("/cot", self.cot, ["GET"]),
            ("/log", self.log, ["GET"]),
        ]

    def _mission(self, request: Request, actor: Actor) -> Mission:
        return self.service.find(actor, **mission_ref(request))

    async def add(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid", "clientUid")
        hashes, uids, paths = checks.check_contents(await read_json(request, self.limit))
        mission = self._mission(request, actor)
        for layer in paths:
            existing_layer(mission, layer)
        resources = [resource_json(await self._package(digest, actor)) for digest in hashes]
        items = [self._uid_item(uid) for uid in uids]
        await self.service.change(
            mission, actor, WRITE, {"op": "add_content", "resources": resources, "uids": items}
        )
        for layer, filed in paths.items():
            body = {"op": "layer", "action": "file", "uid": layer, "uids": filed}
            await self.service.change(mission, actor, WRITE, body)
        return self.answer("Mission", [mission_json(mission)])

    async def _package(self, digest: str, actor: Actor) -> PackageRecord:
        records = await self.service.store().packages_of(digest.lower())
        seen = [record for record in records if not record.groups.isdisjoint(actor.groups)]
        own = [record for record in seen if record.submitter == actor.username]
        if not seen:
            raise MissionNotFound(f"no data package with hash {digest}")
        return (own or seen)[0]

    def _uid_item(self, uid: str) -> dict[str, Any]:
        entry = self.service.host.router.cache.get(uid)
        if entry is None:
            return {"uid": uid, "details": {}}
        return {"uid": uid, "details": item_details(entry.message.event), "xml": entry.message.xml.decode()}

    async def remove(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid", "clientUid")
        digest, uid = request.query_params.get("hash"), request.query_params.get("uid")
        mission = self._mission(request, actor)
        if not (digest and digest in mission.contents) and not (uid and uid in mission.uids):
            raise HTTPException(404, "no such hash or uid in the mission")
        await self.service.change(mission, actor, WRITE, {"op": "remove_content", "hash": digest, "uid": uid})
        return self.answer("Mission", [mission_json(mission)])

    async def set_keywords(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid", "clientUid")
        keywords = checks.check_keywords(await read_json(request, self.limit))
        return await self._keywords(request, actor, keywords)

    async def clear_keywords(self, request: Request) -> Response:
        return await self._keywords(request, actor_of(request, "creatorUid", "clientUid"), [])

    async def remove_keyword(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid", "clientUid")
        mission = self._mission(request, actor)
        remaining = [word for word in mission.keywords if word != request.path_params["keyword"]]
        return await self._keywords(request, actor, remaining)

    async def _keywords(self, request: Request, actor: Actor, keywords: list[str]) -> Response:
        mission = self._mission(request, actor)
        await self.service.change(mission, actor, WRITE, {"op": "keywords", "keywords": keywords})
        return self.answer("Mission", [mission_json(mission)])

    async def set_item_keywords(self, request: Request) -> Response:
        """``PUT …/uid/{uid}/keywords`` or ``…/content/{hash}/keywords``: replace one item's keywords
        (``MISSION_WRITE``; an empty list is TAK's 400, an item not in the mission 404)."""
        keywords = checks.check_keywords(await read_json(request, self.limit))
        if not keywords:
            raise HTTPException(400, "empty keywords array")
        return await self._item_keywords(request, keywords)

    async def clear_item_keywords(self, request: Request) -> Response:
        return await self._item_keywords(request, [])

    async def _item_keywords(self, request: Request, keywords: list[str]) -> Response:
        actor = actor_of(request, "creatorUid", "clientUid")
        mission = self._mission(request, actor)
        await self.service.authorize(mission, actor, WRITE)
        params = request.path_params
        kind, key = ("uid", params["uid"]) if "uid" in params else ("hash", params["hash"])
        if key not in (mission.uids if kind == "uid" else mission.contents):
            raise HTTPException(404, f"no {kind} {key!r} in {mission.name!r}")
        body = {"op": "item_keywords", "kind": kind, "key": key, "keywords": keywords}
        await self.service.change(mission, actor, WRITE, body)
        return Response(status_code=200)

    def _window(self, request: Request) -> tuple[int | None, int | None]:
        start, end = time_param(request, "start"), time_param(request, "end")
        secago = request.query_params.get("secago")
        if secago:
            if not secago.isdigit() or int(secago) > MAX_SECAGO:
                raise HTTPException(400, "secago must be a number of seconds")
            start = self.service.host.now_ms() - int(secago) * 1000
        return start, end

    async def changes(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        mission = self._mission(request, actor)
        await self.service.authorize(mission, actor, READ)
        start, end = self._window(request)
        rows = [
            change_json(mission, change)
            for change in tak_changes(mission)
            if (start is None or change.time >= start) and (end is None or change.time <= end)
        ]
        return self.answer(CHANGE_TYPE, rows)

    async def cot(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        mission = self._mission(request, actor)
        await self.service.authorize(mission, actor, READ)
        cache = self.service.host.router.cache
        chosen: list[bytes] = []
        for item in mission.uids.values():
            entry = cache.get(item.uid)
            if entry is not None:
                chosen.append(entry.message.xml)
            elif item.xml:
                chosen.append(item.xml.encode())
        objectives = self.service.desk.markers(mission)
        return Response(events_xml([*chosen, *objectives]), media_type=XML_MEDIA_TYPE)

    async def log(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        mission = self._mission(request, actor)
        await self.service.authorize(mission, actor, READ)
        start, end = self._window(request)
        rows = [
            log_json(entry)
            for entry in mission.logs.values()
            if (start is None or entry["servertime"] >= start) and (end is None or entry["servertime"] <= end)
        ]
        return self.answer(LOG_TYPE, rows)

    async def post_log(self, request: Request) -> Response:
        """POST (new) or PUT (update, with ``id``) a log entry in each mission it names."""
        document = json_object(await read_json(request, self.limit))
        entry = checks.check_log_entry(document)
        actor = actor_of(request, uid=str(document.get("creatorUid") or "") or None)
        entry_id = str(document.get("id") or "") if request.method == "PUT" else str(uuid.uuid4())
        if not entry_id:
            raise HTTPException(400, "id is required to update a log entry")
        now = self.service.host.now_ms()
        stored = {**entry, "id": entry_id, "creatorUid": actor.uid, "servertime": now, "created": now}
        stored["dtg"] = entry["dtg"] if entry["dtg"] is not None else now
        for name in entry["missionNames"]:
            mission = self.service.find(actor, name=name)
            if request.method == "PUT" and entry_id not in mission.logs:
                raise HTTPException(404, f"no log entry {entry_id} in {name!r}")
            await self.service.change(mission, actor, WRITE, {"op": "log", "entry": stored})
        return self.answer(LOG_TYPE, log_json(stored), 201 if request.method == "POST" else 200)

    async def get_log(self, request: Request) -> Response:
        """``GET /missions/logs/entries/{id}``: the entry (a list of one, as TAK answers), if every
        mission it is in that the caller sees grants it ``MISSION_READ``."""
        actor = actor_of(request, "clientUid")
        entry_id = request.path_params["id"]
        missions = [m for m in self.service.visible_missions(actor) if entry_id in m.logs]
        if not missions:
            raise HTTPException(404, f"no log entry {entry_id}")
        for mission in missions:
            await self.service.authorize(mission, actor, READ)
        return self.answer(LOG_TYPE, [log_json(missions[0].logs[entry_id])])

    async def delete_log(self, request: Request) -> Response:
        actor = actor_of(request, "creatorUid", "clientUid")
        entry_id = request.path_params["id"]
        missions = [m for m in self.service.visible_missions(actor) if entry_id in m.logs]
        if not missions:
            raise HTTPException(404, f"no log entry {entry_id}")
        for mission in missions:
            body = {"op": "log", "delete": True, "entry": {"id": entry_id}}
            await self.service.change(mission, actor, WRITE, body)
        return self.answer(LOG_TYPE, {"id": entry_id})
