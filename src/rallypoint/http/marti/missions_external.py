"""``…/missions/{name}/externaldata`` (TAK Server's MissionApi, issue 14), ``MISSION_WRITE`` each.

- ``POST …/externaldata?creatorUid=`` with an ExternalMissionData: saved (201, the data).
- ``DELETE …/externaldata/{uid}?creatorUid=&notes=``: removed (200; unknown uid 404).
- ``POST …/externaldata/{uid}/change?creatorUid=&notes=`` (body: the tool's token, text):
  subscribers hear that the data changed (200; unknown uid 404).

``creatorUid`` (and ``notes`` where TAK requires it) missing is a 400; another group's mission is
"not found", as everywhere in Data Sync.
"""

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from rallypoint.http.common.query import read_body
from rallypoint.http.marti.missions_common import Handler, MissionHandlers, actor_of, mission_ref, read_json
from rallypoint.missions import external
from rallypoint.missions.access import Actor
from rallypoint.missions.model import Mission
from rallypoint.missions.roles import WRITE

EXTERNAL_TYPE = "com.bbn.marti.sync.model.ExternalMissionData"
MAX_TOKEN_BYTES = 4096
"""The body of a change notice: a token of the other tool, not data."""


def required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None or (name == "creatorUid" and not value):
        raise HTTPException(400, f"{name} is required")
    return value


class MissionExternalData(MissionHandlers):
    """The external-data handlers."""

    def per_mission(self) -> list[tuple[str, Handler, list[str]]]:
        return [
            ("/externaldata", self.save, ["POST"]),
            ("/externaldata/{uid}", self.remove, ["DELETE"]),
            ("/externaldata/{uid}/change", self.changed, ["POST"]),
        ]

    async def _writer(self, request: Request) -> tuple[Mission, Actor]:
        required(request, "creatorUid")
        actor = actor_of(request, "creatorUid")
        mission = self.service.find(actor, **mission_ref(request))
        await self.service.authorize(mission, actor, WRITE)
        return mission, actor

    def _existing(self, mission: Mission, request: Request) -> str:
        uid = str(request.path_params["uid"])
        if uid not in mission.external_data:
            raise HTTPException(404, f"no external data {uid!r} in {mission.name!r}")
        return uid

    async def save(self, request: Request) -> Response:
        mission, actor = await self._writer(request)
        data = external.check_external_data(await read_json(request, self.limit), mission)
        await self.service.change(
            mission, actor, WRITE, {"op": "external_data", "action": "put", "data": data}
        )
        return self.answer(EXTERNAL_TYPE, data, 201)

    async def remove(self, request: Request) -> Response:
        notes = external.check_text(required(request, "notes"), "notes")
        mission, actor = await self._writer(request)
        body = {
            "op": "external_data",
            "action": "delete",
            "uid": self._existing(mission, request),
            "notes": notes,
        }
        await self.service.change(mission, actor, WRITE, body)
        return Response(status_code=200)

    async def changed(self, request: Request) -> Response:
        notes = external.check_text(required(request, "notes"), "notes")
        mission, actor = await self._writer(request)
        uid = self._existing(mission, request)
        token = (await read_body(request, MAX_TOKEN_BYTES)).decode("utf-8", "replace")
        body = {"op": "external_data", "action": "notify", "uid": uid, "notes": notes, "token": token}
        await self.service.change(mission, actor, WRITE, body)
        return Response(status_code=200)
