"""TAK Server's repeater API over the router's active alerts (:mod:`rallypoint.router.alerts`).

TAK Server re-sends "repeatable" messages (emergencies) on a period until they are cancelled;
Rallypoint's alert board does the same, so ``/Marti/api/repeater`` shows and steers that board:

- ``GET list``: the alerts being repeated that the caller may see (their groups meet its own),
  as TAK's ``Repeatable`` (``uid``, ``repeatType``, ``cotType``, ``dateTimeActivated``, ``xml``,
  ``callsign``).
- ``GET remove/{uid}``: stops repeating an alert. Only whoever raised it may, as only they may
  cancel it on a stream: 403 for another member of its groups, 404 outside them.
- ``GET``/``POST period``: the repeat period in ms (the POST body a bare JSON integer). It is
  the server's one setting, so as in TAK Server only an administrator (a member of the
  ``admin`` group) may change it (403 for anyone else), and only within bounds that keep every
  alert alive between repeats.
"""

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.xml import serialize_event
from rallypoint.http.common.deps import ApiDeps, Caller, caller_of, envelope, require_admin
from rallypoint.http.common.query import parse_json, read_body
from rallypoint.http.marti.marti import java_millis_time
from rallypoint.router.alerts import ActiveAlert, identity_key

log = logging.getLogger(__name__)

REPEATABLE_TYPE = "com.bbn.marti.remote.Repeatable"
MIN_PERIOD_MS = 1_000
"""Faster repeats only add traffic: ATAK redraws an alert every few seconds anyway."""
MAX_PERIOD_BODY_BYTES = 32
"""A period body is one integer."""


def _repeatable(alert: ActiveAlert) -> dict[str, str]:
    event = alert.event
    emergency = event.detail.emergency if event.detail else None
    return {
        "uid": event.uid,
        "repeatType": (emergency.type if emergency and emergency.type else event.type),
        "cotType": event.type,
        "dateTimeActivated": java_millis_time(alert.activated),
        "xml": serialize_event(event).decode(),
        "callsign": (emergency.callsign if emergency and emergency.callsign else event.callsign or ""),
    }


class Repeater:
    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps
        self.board = deps.router.alerts

    def _visible(self, caller: Caller) -> list[ActiveAlert]:
        return [a for a in self.board.active() if not a.groups.isdisjoint(caller.groups)]

    async def list(self, request: Request) -> Response:
        rows = [_repeatable(a) for a in sorted(self._visible(caller_of(request)), key=lambda a: a.activated)]
        return JSONResponse(envelope(REPEATABLE_TYPE, rows, self.deps.settings.server_id))

    async def remove(self, request: Request) -> Response:
        caller = caller_of(request)
        uid = request.path_params["uid"]
        alert = next((a for a in self._visible(caller) if a.event.uid == uid), None)
        if alert is None:
            raise HTTPException(404, f"no repeated message {uid!r}")
        if caller.name is None or alert.owner != identity_key(caller.name):
            raise HTTPException(403, "only whoever raised an alert may stop it")
        self.board.stop(uid)
        log.info("repeater: %s stopped repeating %s", caller.name, uid)
        return JSONResponse(envelope("java.lang.Boolean", True, self.deps.settings.server_id))

    async def period(self, request: Request) -> Response:
        return JSONResponse(envelope("java.lang.Integer", self.board.period_ms, self.deps.settings.server_id))

    async def set_period(self, request: Request) -> Response:
        caller = caller_of(request)
        require_admin(caller, "change the server's repeat period")
        value = parse_json(await read_body(request, MAX_PERIOD_BODY_BYTES))
        longest = self.board.lifetime_ms // 2
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_PERIOD_MS <= value <= longest:
            raise HTTPException(400, f"period must be an integer of {MIN_PERIOD_MS}..{longest} ms")
        self.board.period_ms = value
        log.info("repeater: %s set the period to %d ms", caller.name, value)
        return await self.period(request)


def repeater_routes(deps: ApiDeps) -> list[BaseRoute]:
    handlers = Repeater(deps)
    return [
        Route("/Marti/api/repeater/list", handlers.list, methods=["GET"]),
        Route("/Marti/api/repeater/remove/{uid:path}", handlers.remove, methods=["GET"]),
        Route("/Marti/api/repeater/period", handlers.period, methods=["GET"]),
        Route("/Marti/api/repeater/period", handlers.set_period, methods=["POST"]),
    ]
