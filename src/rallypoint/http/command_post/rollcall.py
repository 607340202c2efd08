"""The roll call (PAR) JSON API: start, list, read and cancel roll calls.

A caller sees only the roll calls that share one of its groups (another group's answer 404, as
if absent) and a roll call it starts asks only the devices of its own groups. Starting and
cancelling are audited with the caller and the scope. Errors are the mission errors, answered
with their status by :func:`~rallypoint.http.marti.missions_common.guarded`.
"""

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.http.common.deps import caller_of
from rallypoint.http.marti.missions_common import ANONYMOUS_ACTOR, Audit, guarded, json_object, read_json
from rallypoint.missions.rollcall import check_start
from rallypoint.missions.rollcall_service import RollCallService

MAX_BODY_BYTES = 4096
"""A start request names a team and two numbers."""
MAX_LISTED = 100
"""Roll calls the list answers with, newest first (each carries its members)."""


def rollcall_routes(service: RollCallService, audit: Audit = lambda kind, **fields: None) -> list[BaseRoute]:
    """``/api/rollcalls`` (GET list, POST start), ``/api/rollcalls/{id}``, ``…/{id}/cancel`` and
    ``…/{id}/members/{uid}/account`` (the command post accounts for a member itself)."""

    async def index(request: Request) -> Response:
        caller = caller_of(request)
        now = service.host.now_ms()
        return JSONResponse([service.json(r, now) for r in service.visible(caller.groups)[:MAX_LISTED]])

    async def start(request: Request) -> Response:
        caller = caller_of(request)
        body = json_object(await read_json(request, MAX_BODY_BYTES))
        team, deadline_s, no_position_min = check_start(body, service.default_no_position_min)
        author = caller.name or ANONYMOUS_ACTOR
        rollcall = await service.start_rollcall(author, caller.groups, team, deadline_s, no_position_min)
        audit(
            "rollcall_started",
            user=author,
            address=caller.address,
            rollcall=rollcall.code,
            team=team,
            devices=len(rollcall.members),
        )
        return JSONResponse(service.json(rollcall), status_code=201)

    async def get(request: Request) -> Response:
        caller = caller_of(request)
        return JSONResponse(service.json(service.get(request.path_params["id"], caller.groups)))

    async def cancel(request: Request) -> Response:
        caller = caller_of(request)
        rollcall = service.get(request.path_params["id"], caller.groups)
        author = caller.name or ANONYMOUS_ACTOR
        await service.cancel(rollcall, author)
        audit("rollcall_cancelled", user=author, address=caller.address, rollcall=rollcall.code)
        return JSONResponse(service.json(rollcall))

    async def account(request: Request) -> Response:
        caller = caller_of(request)
        rollcall = service.get(request.path_params["id"], caller.groups)
        body = json_object(await read_json(request, MAX_BODY_BYTES))
        note = body.get("note", "")
        if not isinstance(note, str):
            raise HTTPException(400, "note must be a string")
        uid = request.path_params["uid"]
        author = caller.name or ANONYMOUS_ACTOR
        await service.account(rollcall, uid, author, note)
        audit("rollcall_accounted", user=author, address=caller.address, rollcall=rollcall.code, uid=uid)
        return JSONResponse(service.json(rollcall))

    return [
        Route("/api/rollcalls", guarded(index), methods=["GET"]),
        Route("/api/rollcalls", guarded(start), methods=["POST"]),
        Route("/api/rollcalls/{id}", guarded(get), methods=["GET"]),
        Route("/api/rollcalls/{id}/cancel", guarded(cancel), methods=["POST"]),
        Route("/api/rollcalls/{id}/members/{uid}/account", guarded(account), methods=["POST"]),
    ]


__all__ = ["rollcall_routes"]
