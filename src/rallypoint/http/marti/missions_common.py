"""What the mission endpoints share: who the actor is, JSON bodies, and error translation.

Mission errors are typed (:mod:`rallypoint.errors`); :func:`guarded` turns each kind into its
status code with the message as the JSON error, so a client always learns what was wrong.
"""

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rallypoint.errors import (
    InvalidMissionRequest,
    MissionConflict,
    MissionError,
    MissionForbidden,
    MissionNotFound,
    MissionsUnavailable,
    WrongMissionPassword,
)
from rallypoint.http.common.deps import caller_of, envelope
from rallypoint.http.common.query import parse_json, read_body
from rallypoint.http.common.ratelimit import LoginThrottle, Verdict
from rallypoint.missions.access import Actor
from rallypoint.missions.service import MissionService
from rallypoint.router.stats import Counters

log = logging.getLogger(__name__)

ANONYMOUS_ACTOR = "anonymous"
"""Who a plain-port caller that names no client uid acts as."""
MAX_UID_CHARS = 256

_STATUS: tuple[tuple[type[MissionError], int], ...] = (
    (MissionNotFound, 404),
    (MissionForbidden, 403),
    (MissionConflict, 409),
    (InvalidMissionRequest, 400),
    (MissionsUnavailable, 503),
)

Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """``handler`` with mission errors answered as their 4xx/503."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except MissionError as exc:
            status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
            raise HTTPException(status, str(exc)) from exc

    return run


Audit = Callable[..., None]
"""Append one audit entry: ``audit(kind, **fields)`` (provided by the server)."""


class PasswordGate:
    """Mission password guesses throttled like logins (:class:`LoginThrottle`), counted and audited.

    A request carrying ``password=`` is one attempt, keyed by mission and identity (a guesser
    of one mission) and by client address (one host trying many). Once a key has its
    failures in the window, the request is refused with 429 before the password is checked.
    """

    def __init__(
        self,
        max_failures: int,
        counters: Counters,
        audit: Audit,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.throttle = LoginThrottle(max_failures)
        self.counters = counters
        self.audit = audit
        self.clock = clock

    def __call__(self, handler: Handler, *, body_password: bool = False) -> Handler:
        """``handler`` under the gate (and :func:`guarded`).

        Marti routes carry the password as a query parameter, so only requests that have one
        are attempts. The command post's routes (``body_password``) carry it in the JSON
        body, read later by the handler: every request is then an attempt, taken back
        unless it ends with a wrong password. The address key is per mission too, so a
        throttled guesser does not lock its neighbours out of other missions."""
        inner = guarded(handler)

        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            named = bool(request.query_params.get("password"))
            if not (named or body_password):
                return await inner(request)
            caller = caller_of(request)
            mission = request.path_params.get("guid") or request.path_params.get("name", "")
            key = f"{mission}|{caller.name or ''}"
            address = caller.address.rsplit(":", 1)[0]
            where = f"{mission}|{address}"
            started = self.clock()
            verdict = self.throttle.attempt(key, where, started)
            if not verdict.allowed:
                self._throttled(mission, caller.name, address, verdict)
            try:
                response = await inner(request)
            except HTTPException as exc:
                if isinstance(exc.__cause__, WrongMissionPassword):
                    self._failed(mission, caller.name, address)
                else:
                    self.throttle.withdraw(key, where, started)
                raise
            if named:
                self.throttle.succeeded(key, where, started)
            else:
                self.throttle.withdraw(key, where, started)
            return response

        return run

    def _failed(self, mission: str, user: str | None, address: str) -> None:
        self.counters.inc("mission_password_failed")
        log.warning("wrong password for mission %r from %s (%s)", mission, user or "anonymous", address)
        self.audit("mission_password_failed", mission=mission, user=user, address=address)

    def _throttled(self, mission: str, user: str | None, address: str, verdict: Verdict) -> NoReturn:
        self.counters.inc(f"mission_password_throttled{{by={verdict.limited_by}}}")
        if verdict.report:
            log.warning(
                "mission %r: password guesses from %s (%s) throttled for %d s",
                mission,
                user or "anonymous",
                address,
                verdict.retry_after_s,
            )
            self.audit("mission_password_throttled", mission=mission, user=user, address=address)
        raise HTTPException(
            429, "too many wrong mission passwords", headers={"Retry-After": str(verdict.retry_after_s)}
        )


def bearer_token(request: Request) -> str | None:
    """The token of ``MissionAuthorization: Bearer …`` (or ``Authorization: Bearer …``)."""
    for header in ("missionauthorization", "authorization"):
        value = request.headers.get(header, "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


def actor_of(request: Request, *uid_params: str, uid: str | None = None) -> Actor:
    """The caller as a mission actor: the first client-uid parameter given, else its user name."""
    caller = caller_of(request)
    chosen = uid
    for name in uid_params:
        chosen = chosen or request.query_params.get(name) or None
    chosen = chosen or caller.name or ANONYMOUS_ACTOR
    if len(chosen) > MAX_UID_CHARS:
        raise HTTPException(400, f"client uid longer than {MAX_UID_CHARS} characters")
    return Actor(
        uid=chosen,
        groups=caller.groups,
        username=caller.name,
        token=bearer_token(request),
        password=request.query_params.get("password") or None,
    )


async def read_json(request: Request, limit: int, *, required: bool = True) -> Any:
    """The body as JSON (413 over ``limit`` bytes, 400 if not JSON; None when empty and optional)."""
    body = await read_body(request, limit)
    if not body.strip():
        if required:
            raise HTTPException(400, "a JSON body is required")
        return None
    return parse_json(body)


def json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HTTPException(400, "the JSON body must be an object")
    return value


def mission_ref(request: Request) -> dict[str, str]:
    """``name=`` or ``guid=`` from the path, for :meth:`MissionService.find`."""
    params = request.path_params
    return {"guid": params["guid"]} if "guid" in params else {"name": params["name"]}


def flag(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter (``true``/``false``)."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if text.lower() not in ("true", "false"):
        raise HTTPException(400, f"{name} must be true or false")
    return text.lower() == "true"


class MissionHandlers:
    """What each group of Data Sync handlers holds: the mission service, the node id TAK's
    envelopes carry, and the largest request body it reads."""

    def __init__(self, service: MissionService) -> None:
        self.service = service
        self.node = service.host.settings.server_id
        self.limit = service.host.settings.mission_max_body_bytes

    def answer(self, type_name: str, data: Any, status: int = 200) -> Response:
        """``data`` in TAK's envelope (``version``, ``type``, ``data``, ``nodeId``)."""
        return JSONResponse(envelope(type_name, data, self.node), status_code=status)
