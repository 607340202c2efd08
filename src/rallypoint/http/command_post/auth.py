"""Sessions of the web command post: login with a password, a cookie, CSRF and Origin checks.

A browser logs in with the name and password of an identity-store user (the same users that
enroll devices), through the failed-login throttle enrollment uses. The server keeps the
session in memory under a random 256-bit id sent as the ``rp_session`` cookie (HttpOnly,
SameSite=Strict), and with :class:`Persistence` also on disk under the id's hash
(:mod:`rallypoint.http.command_post.session_records`), so that a page stays logged in across a
server restart; sessions end at logout, after :attr:`SessionStore.idle_s` without use, when
the oldest must make room, or when the identity store no longer allows them.
Every state-changing ``/api/*`` request must carry the session's CSRF token in
``X-CSRF-Token`` and, when the browser sends an ``Origin``, come from this very origin:
SameSite already stops most cross-site requests; the token and the Origin check stop the rest
(old browsers, sibling subdomains). A request with a live session is bound to the same
:class:`~rallypoint.http.common.deps.Caller` the Marti API binds, so routes written for that
app (missions, objectives) serve the page unchanged.
"""

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rallypoint.http.command_post.session_records import (
    TOUCH_INTERVAL_MS,
    SessionRecord,
    SessionRecords,
    token_hash,
)
from rallypoint.http.common.deps import CALLER_SCOPE_KEY, Caller, client_address

COOKIE_NAME = "rp_session"
CSRF_HEADER = "x-csrf-token"
SESSION_SCOPE_KEY = "rallypoint.web_session"
"""Where the middleware puts the request's :class:`Session` (absent: not logged in)."""
SESSION_ID_BYTES = 32
MAX_SESSIONS = 10_000
"""Sessions kept at once; the least recently used is ended first. A command post has tens."""
WEB_TRANSPORT = "web"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/api/login", "/api/session"})
"""``/api/*`` paths served without a session: the login itself (it checks the Origin) and the
session query, which answers 401 itself unless a client certificate logs the page in."""
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

Clock = Callable[[], float]


@dataclass
class Session:
    """One logged-in browser: who, their groups, and the CSRF token the page echoes."""

    id: str
    user: str
    groups: frozenset[str]
    csrf: str
    last_used: float
    closers: list[Callable[[], None]] = field(default_factory=list)
    """Told when the session ends (its live sockets close)."""
    certificate: int | None = None
    """The serial of the client certificate that opened it, if one did (revoking it ends it)."""
    stored_ms: int = 0
    """The last use written to disk (see :data:`TOUCH_INTERVAL_MS`)."""

    @property
    def uid(self) -> str:
        """The device uid the page acts as: TAK clients address its user by it."""
        return web_uid(self.user)

    def caller(self, address: str) -> Caller:
        """The API caller this session is."""
        return Caller(self.user, self.groups, WEB_TRANSPORT, address)

    def json(self) -> dict[str, object]:
        """``{"user","groups","csrf"}`` as ``/api/login`` and ``/api/session`` answer."""
        return {"user": self.user, "groups": sorted(self.groups), "csrf": self.csrf}


def csrf_of(token: str) -> str:
    """The CSRF token of a session: derived from its id, so it need not be stored anywhere."""
    digest = hmac.new(token.encode(), b"rallypoint csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Persistence:
    """Where sessions outlive the process, and how a revived one is checked."""

    records: SessionRecords
    wall_ms: Callable[[], int]
    still_valid: Callable[[Session], bool]
    """The identity store's verdict now (the user may have been disabled while the server was down)."""


def web_uid(user: str) -> str:
    """``web-<user>``: the uid of a user's web page on the TAK network."""
    return f"web-{user}"


class SessionStore:
    """Sessions in memory, by id, in least-recently-used order (time passed in via ``clock``)."""

    def __init__(
        self,
        idle_s: float,
        max_sessions: int = MAX_SESSIONS,
        clock: Clock = time.monotonic,
        persistence: Persistence | None = None,
    ) -> None:
        self.idle_s = idle_s
        self.max_sessions = max_sessions
        self.clock = clock
        self.persistence = persistence
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, user: str, groups: frozenset[str], certificate: int | None = None) -> Session:
        """A new session for ``user``; the oldest is ended if the store is full."""
        self._make_room()
        token = secrets.token_urlsafe(SESSION_ID_BYTES)
        session = Session(token, user, groups, csrf_of(token), self.clock(), certificate=certificate)
        self._sessions[session.id] = session
        if self.persistence is not None:
            session.stored_ms = self.persistence.wall_ms()
            record = SessionRecord(user, groups, certificate, session.stored_ms)
            self.persistence.records.save(token_hash(token), record)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (its idle time restarts), or None."""
        if not session_id:
            return None
        session = self._sessions.get(session_id) or self._revive(session_id)
        if session is None:
            return None
        now = self.clock()
        if now - session.last_used > self.idle_s:
            self.end(session)
            return None
        session.last_used = now
        self._sessions.move_to_end(session_id)
        self._touch(session)
        return session

    def end(self, session: Session) -> None:
        """Forget ``session`` (on disk too) and close what depends on it."""
        if self.persistence is not None:
            self.persistence.records.delete(token_hash(session.id))
        if self._sessions.pop(session.id, None) is not None:
            _ended(session)

    def expire(self) -> int:
        """End every idle session (and forget idle ones on disk); return how many ended in memory."""
        cutoff = self.clock() - self.idle_s
        idle = [session for session in self._sessions.values() if session.last_used < cutoff]
        for session in idle:
            self.end(session)
        return len(idle)

    def sweep_stored(self) -> None:
        """Forget the sessions on disk that have been idle too long or exceed the limit."""
        if self.persistence is not None:
            cutoff_ms = self.persistence.wall_ms() - round(self.idle_s * 1000)
            self.persistence.records.sweep(cutoff_ms, self.max_sessions)

    def _revive(self, token: str) -> Session | None:
        """The session of ``token`` from before a restart, if it is still within its idle time and
        the identity store still allows it; it is then kept in memory like a new one."""
        if self.persistence is None:
            return None
        key = token_hash(token)
        record = self.persistence.records.load(key)
        if record is None:
            return None
        now_ms = self.persistence.wall_ms()
        session = Session(
            token, record.user, record.groups, csrf_of(token), self.clock(), certificate=record.certificate
        )
        session.stored_ms = record.last_used_ms
        if now_ms - record.last_used_ms > self.idle_s * 1000 or not self.persistence.still_valid(session):
            self.persistence.records.delete(key)
            return None
        self._make_room()
        self._sessions[token] = session
        return session

    def _make_room(self) -> None:
        """End the least recently used sessions in memory while the store is full (those on disk
        are trimmed by :meth:`sweep_stored`)."""
        while len(self._sessions) >= self.max_sessions:
            _, oldest = self._sessions.popitem(last=False)
            _ended(oldest)

    def _touch(self, session: Session) -> None:
        if self.persistence is None:
            return
        now_ms = self.persistence.wall_ms()
        if now_ms - session.stored_ms >= TOUCH_INTERVAL_MS:
            session.stored_ms = now_ms
            self.persistence.records.touch(token_hash(session.id), now_ms)

    def revalidate(self, still_valid: Callable[[Session], bool]) -> int:
        """End the sessions ``still_valid`` rejects (user gone, disabled or regrouped, certificate
        revoked), so a page never shows what its user may no longer see; the page then logs in
        again. Return how many ended."""
        stale = [session for session in self._sessions.values() if not still_valid(session)]
        for session in stale:
            self.end(session)
        return len(stale)


def _ended(session: Session) -> None:
    closers, session.closers = session.closers, []
    for close in closers:
        close()


def session_cookie(session_id: str, *, secure: bool, max_age: int | None = None) -> str:
    """The ``Set-Cookie`` value: HttpOnly, SameSite=Strict, Path=/, Secure when asked."""
    parts = [f"{COOKIE_NAME}={session_id}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def cookie_secure(scope: Scope) -> bool:
    """Mark the cookie Secure over HTTPS, and on loopback, where browsers accept it over HTTP."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    host = Headers(scope=scope).get("host", "")
    return _hostname(host) in LOOPBACK_HOSTS or _hostname(host).startswith("127.")


def session_id_of(scope: Scope) -> str | None:
    """The ``rp_session`` cookie of a request, if any."""
    header = Headers(scope=scope).get("cookie")
    if not header:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header)
    except ValueError:  # http.cookies.CookieError: a malformed header carries no session
        return None
    morsel = cookies.get(COOKIE_NAME)
    return morsel.value if morsel is not None else None


def same_origin(scope: Scope) -> bool:
    """True when the request has no ``Origin`` or one naming this server as the browser reached it."""
    headers = Headers(scope=scope)
    origin = headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    return parts.scheme == scheme and parts.netloc.lower() == headers.get("host", "").lower()


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class SessionGate:
    """ASGI middleware of the web app: binds sessions, enforces login, CSRF and Origin on ``/api``."""

    def __init__(self, app: ASGIApp, sessions: SessionStore) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        session = self.sessions.get(session_id_of(scope))
        if session is not None:
            scope = {
                **scope,
                SESSION_SCOPE_KEY: session,
                CALLER_SCOPE_KEY: session.caller(client_address(scope)),
            }
        path: str = scope["path"]
        if scope["type"] == "websocket" or not (path == "/api" or path.startswith("/api/")):
            await self.app(scope, receive, send)  # the live socket checks for itself; static files
            return
        refusal = self._refusal(scope, session)
        if refusal is not None:
            status, message = refusal
            await JSONResponse({"error": message, "status": status}, status_code=status)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, session: Session | None) -> tuple[int, str] | None:
        method = scope["method"]
        path = scope["path"]
        if method not in SAFE_METHODS and not same_origin(scope):
            return 403, "cross-origin request refused"
        if path in PUBLIC_PATHS:
            return None
        if session is None:
            return 401, "not logged in"
        if method in SAFE_METHODS:
            return None
        token = Headers(scope=scope).get(CSRF_HEADER, "")
        if not hmac.compare_digest(token.encode(), session.csrf.encode()):
            return 403, "missing or wrong X-CSRF-Token"
        return None
