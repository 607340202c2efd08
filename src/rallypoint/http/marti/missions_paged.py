"""TAK Server's paged mission listing: ``GET /Marti/api/pagedmissions`` and ``…/missioncount``.

As TAK Server's ``MissionApi.getPagedMissions``: ``page`` counts from 0 (default 0),
``pagesize`` missions a page (default 10), ``sort`` names the field to order by and
``ascending`` its direction (default true), ``nameFilter`` and ``uidFilter`` keep missions
whose name or creator uid contains the text (without regard to case), ``tool`` keeps one tool
(every tool when absent), and ``passwordProtected`` (default true here, unlike ``/missions``)
keeps password-protected missions. The answer is the page of ``Mission`` objects in TAK's
envelope, as ``/missions`` gives them.

Only the caller's missions are listed and counted: those of its groups. TAK Server's
``missioncount`` counts every mission of the server whatever the caller's groups; here it
counts what the caller could page through, so another group's missions stay invisible, not
even as a number.
"""

from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rallypoint.http.marti.missions_common import MissionHandlers, actor_of, flag, guarded
from rallypoint.missions.access import Actor, is_member
from rallypoint.missions.model import Mission, mission_json
from rallypoint.missions.service import MissionService

MISSION_TYPE = "Mission"
MAX_PAGE_SIZE = 1000
SORT_KEYS: dict[str, Callable[[Mission], tuple[Any, ...]]] = {
    "": lambda m: (m.name.casefold(), m.create_time),
    "name": lambda m: (m.name.casefold(), m.create_time),
    "createTime": lambda m: (m.create_time, m.name.casefold()),
    "creatorUid": lambda m: (m.creator_uid, m.name.casefold()),
    "tool": lambda m: (m.tool, m.name.casefold()),
    "description": lambda m: (m.description.casefold(), m.name.casefold()),
}
"""The fields a page may be ordered by (TAK's default, empty, orders by name here)."""


def _number(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise HTTPException(400, f"{name} is an integer of {low}..{high}")
    return int(text)


class PagedMissions(MissionHandlers):
    def _selected(self, request: Request, actor: Actor) -> list[Mission]:
        tool = request.query_params.get("tool") or None
        protected = flag(request, "passwordProtected", default=True)
        name_filter = request.query_params.get("nameFilter", "").casefold()
        uid_filter = request.query_params.get("uidFilter", "").casefold()
        return [
            m
            for m in self.service.visible_missions(actor, tool)
            if (protected or m.password_hash is None or is_member(m, actor.uid))
            and name_filter in m.name.casefold()
            and uid_filter in m.creator_uid.casefold()
        ]

    async def page(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        page = _number(request, "page", 0, 0, 1_000_000)
        size = _number(request, "pagesize", 10, 1, MAX_PAGE_SIZE)
        sort = request.query_params.get("sort", "")
        if sort not in SORT_KEYS:
            raise HTTPException(400, f"sort is one of {', '.join(k for k in SORT_KEYS if k)}")
        ascending = flag(request, "ascending", default=True)
        missions = sorted(self._selected(request, actor), key=SORT_KEYS[sort], reverse=not ascending)
        chosen = missions[page * size : (page + 1) * size]
        return self.answer(MISSION_TYPE, [mission_json(m) for m in chosen])

    async def count(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid")
        return self.answer(MISSION_TYPE, len(self._selected(request, actor)))


def paged_mission_routes(service: MissionService) -> list[BaseRoute]:
    handlers = PagedMissions(service)
    return [
        Route("/Marti/api/pagedmissions", guarded(handlers.page), methods=["GET"]),
        Route("/Marti/api/missioncount", guarded(handlers.count), methods=["GET"]),
    ]
