"""``/api/login``, ``/api/session`` and ``/api/logout`` of the web command post.

Passwords are checked by the identity store (scrypt, the same work for unknown names) in a
worker thread, a few at a time, after the failed-login throttle enrollment uses: a guesser is
refused with 429 before any hash is computed. Failures and throttling are audited like
enrollment logins, successes too (who opened the command post, from where).
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from rallypoint.http.command_post.auth import (
    SESSION_SCOPE_KEY,
    Session,
    SessionStore,
    cookie_secure,
    session_cookie,
)
from rallypoint.http.common.query import parse_json
from rallypoint.http.common.ratelimit import LoginThrottle
from rallypoint.pki.identities import User
from rallypoint.pki.passwords import MAX_PASSWORD_CHARS

log = logging.getLogger(__name__)

MAX_LOGIN_BODY_BYTES = 4096
"""A login body holds a name and a password; anything longer is refused unread."""
MAX_CONCURRENT_LOGINS = 4
"""Password hashes computed at once (each costs tens of ms and 32 MiB): a flood queues here."""
MAX_NAME_CHARS = 128

Authenticate = Callable[[str, str], User | None]
"""The identity store's check: the enabled user with that password, or None (blocking)."""
Audit = Callable[..., None]
"""Append one audit entry: ``audit(kind, **fields)``."""
CertificateUser = Callable[[Scope], tuple[str, frozenset[str], int] | None]
"""The user, groups and certificate serial of the verified client certificate a request came with
(HTTPS), or None."""


@dataclass
class LoginService:
    """What the three routes share: sessions, the password check, the throttle, the audit log."""

    sessions: SessionStore
    authenticate: Authenticate | None
    """None when the server has no identity store: every login is refused."""
    throttle: LoginThrottle
    audit: Audit
    clock: Callable[[], float] = time.monotonic
    certificate_user: CertificateUser | None = None
    """Set on an HTTPS port that asks browsers for a client certificate."""

    def __post_init__(self) -> None:
        self._hashing = asyncio.Semaphore(MAX_CONCURRENT_LOGINS)

    async def login(self, request: Request) -> Response:
        """Check the name and password; on success start a session and set its cookie."""
        name, password = await _credentials(request)
        address = request.client.host if request.client else "unknown"
        started = self.clock()
        verdict = self.throttle.attempt(name, address, started)
        if not verdict.allowed:
            if verdict.report:
                log.warning("web: throttling logins of user %r from %s", name, address)
                self.audit(
                    "login_failed", user=name, address=address, reason=f"throttled ({verdict.limited_by})"
                )
            raise HTTPException(
                429,
                "too many failed logins; retry later",
                headers={"Retry-After": str(verdict.retry_after_s)},
            )
        user = await self._check(name, password)
        if user is None:
            log.info("web: failed login of user %r from %s", name, address)
            self.audit("login_failed", user=name, address=address, reason="bad credentials", transport="web")
            raise HTTPException(401, "wrong user name or password")
        self.throttle.succeeded(name, address, started)
        session = self.sessions.create(user.name, user.groups)
        log.info("web: %s logged in from %s", user.name, address)
        self.audit("web_login", user=user.name, address=address)
        return _opened(session, secure=cookie_secure(request.scope))

    async def session(self, request: Request) -> Response:
        """The logged-in user, groups and CSRF token (the page calls it when it loads). A page with
        no session whose browser presented a valid client certificate is logged in by it."""
        session = request.scope.get(SESSION_SCOPE_KEY)
        if not isinstance(session, Session) and self.certificate_user is not None:
            found = self.certificate_user(request.scope)
            if found is not None:
                user, groups, serial = found
                address = request.client.host if request.client else "unknown"
                log.info("web: %s logged in from %s with a client certificate", user, address)
                self.audit("web_login", user=user, address=address, method="certificate")
                return _opened(self.sessions.create(user, groups, serial), secure=True)
        response = JSONResponse(_session_of(request).json())
        response.headers["cache-control"] = "no-store"
        return response

    async def logout(self, request: Request) -> Response:
        """End the session, close its live sockets, and clear the cookie."""
        session = _session_of(request)
        self.sessions.end(session)
        response = JSONResponse({"user": session.user})
        response.headers["set-cookie"] = session_cookie("", secure=cookie_secure(request.scope), max_age=0)
        return response

    async def _check(self, name: str, password: str) -> User | None:
        if self.authenticate is None:
            return None
        async with self._hashing:
            return await asyncio.to_thread(self.authenticate, name, password)

    def routes(self) -> list[BaseRoute]:
        """The three routes."""
        return [
            Route("/api/login", self.login, methods=["POST"]),
            Route("/api/session", self.session, methods=["GET"]),
            Route("/api/logout", self.logout, methods=["POST"]),
        ]


def _opened(session: Session, *, secure: bool) -> Response:
    """The answer that starts ``session`` in the browser: its JSON and its cookie."""
    response = JSONResponse(session.json())
    response.headers["set-cookie"] = session_cookie(session.id, secure=secure)
    response.headers["cache-control"] = "no-store"
    return response


def _session_of(request: Request) -> Session:
    session = request.scope.get(SESSION_SCOPE_KEY)
    if not isinstance(session, Session):
        raise HTTPException(401, "not logged in")
    return session


async def _credentials(request: Request) -> tuple[str, str]:
    """``{"username","password"}`` from the body, or 400."""
    body = await read_json(request, MAX_LOGIN_BODY_BYTES)
    name = body.get("username")
    password = body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        raise HTTPException(400, "username and password (strings) are required")
    if len(name) > MAX_NAME_CHARS or len(password) > MAX_PASSWORD_CHARS:
        raise HTTPException(400, "username or password too long")
    return name, password


async def read_json(request: Request, limit: int) -> dict[str, object]:
    """A JSON object body of at most ``limit`` bytes, or 400/413/415."""
    if "json" not in request.headers.get("content-type", ""):
        raise HTTPException(415, "the body must be JSON (Content-Type: application/json)")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    value = parse_json(body)
    if not isinstance(value, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return value
