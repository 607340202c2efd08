"""``POST /oauth/token`` (OAuth 2 password grant, as node-tak and CloudTAK log in) and the
bearer tokens it issues.

A token is a JWT signed with HMAC-SHA256 by a key kept in the data directory (made on first
use, readable by the server's user only); it names the user (``sub``) and when it stops being
valid (``exp``). It carries no groups: whoever presents it gets the user's groups as the
identity store has them *at that request*, so a disabled user or a changed group takes effect
at once, as with certificates. node-tak reads the payload by base64-decoding the whole token
and splitting at ``}``, so the header is written to end on a base64 boundary and the payload
is one flat object.

Tokens are issued on HTTPS only (8443, with the client certificate) and accepted on the plain
API port in place of the anonymous caller (:func:`bearer_caller`); a WebSocket a token opened
there ends when the token expires or its user no longer holds
(:mod:`rallypoint.http.marti.token_sockets`). Logins go through the same
failed-login throttle as enrollment.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.http.common.deps import ApiDeps, Caller, caller_of
from rallypoint.http.common.query import read_body
from rallypoint.http.common.ratelimit import LoginThrottle
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.enrollment_formats import config_xml
from rallypoint.pki.identities import IdentityStore

log = logging.getLogger(__name__)

KEY_FILE = "oauth-signing.key"
KEY_BYTES = 32
TOKEN_LIFETIME_S = 12 * 3600
"""A token lasts one long shift; the client logs in again after it."""
MAX_TOKEN_CHARS = 4096
"""Longer bearer values are not tokens of ours and are not decoded."""
MAX_FORM_BYTES = 8 * 1024
"""A login form: a user name and a password."""
MAX_FORM_FIELDS = 16
"""Fields of a login form; more is not a login."""
MAX_CONCURRENT_LOGINS = 4
"""Password hashes (scrypt) computed at once; a flood of logins waits here."""
AUDIENCE = "rallypoint"
BEARER = "bearer "
_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
"""27 bytes of JSON, so 36 characters of base64 with no padding: the payload starts on a boundary."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenClaims(NamedTuple):
    user: str
    expires_s: int
    """Seconds since the epoch: the token is refused from then on (and its sockets end)."""


class Bearer(NamedTuple):
    """A request's token, as who it lets in and until when."""

    caller: Caller
    expires_ms: int


@dataclass(frozen=True)
class TokenKey:
    """The signing key: issues tokens and checks them (sans-I/O: time is passed in)."""

    secret: bytes
    issuer: str

    @classmethod
    def load_or_create(cls, data_dir: Path, issuer: str) -> "TokenKey":
        """The key of ``data_dir``, made (mode 0600) if it does not exist yet."""
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(secrets.token_bytes(KEY_BYTES))
        return cls(path.read_bytes(), issuer)

    def issue(self, user: str, now_s: int) -> str:
        claims = {
            "sub": user,
            "aud": AUDIENCE,
            "iss": self.issuer,
            "iat": now_s,
            "nbf": now_s,
            "exp": now_s + TOKEN_LIFETIME_S,
            "jti": str(uuid.uuid4()),
        }
        signed = f"{_HEADER}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
        return f"{signed}.{_b64(self._sign(signed))}"

    def user_of(self, token: str, now_s: int) -> str | None:
        """The user a valid, current token of ours names; None for anything else."""
        claims = self.claims_of(token, now_s)
        return None if claims is None else claims.user

    def claims_of(self, token: str, now_s: int) -> "TokenClaims | None":
        """Whom a valid, current token of ours names, and until when; None for anything else."""
        parts = token.split(".")
        if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or parts[0] != _HEADER:
            return None
        try:
            signature = _unb64(parts[2])
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(signature, self._sign(f"{parts[0]}.{parts[1]}")):
            return None
        if not isinstance(claims, dict) or claims.get("aud") != AUDIENCE:
            return None
        subject, expires, not_before = claims.get("sub"), claims.get("exp"), claims.get("nbf")
        if not isinstance(subject, str) or not isinstance(expires, int) or not isinstance(not_before, int):
            return None
        return TokenClaims(subject, expires) if not_before <= now_s < expires else None

    def _sign(self, text: str) -> bytes:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).digest()


def bearer_caller(
    key: TokenKey, identities: IdentityStore, authorization: str | None, address: str, now_s: int
) -> Bearer | None:
    """The caller a ``Bearer`` token stands for, with its user's current groups, and when the
    token expires; None when there is no token, or it is not valid, or its user is unknown or
    disabled."""
    if authorization is None or not authorization.lower().startswith(BEARER):
        return None
    claims = key.claims_of(authorization[len(BEARER) :].strip(), now_s)
    user = identities.user(claims.user) if claims is not None else None
    if user is None or user.disabled:
        return None
    assert claims is not None
    return Bearer(Caller(user.name, user.groups, "http", address), claims.expires_s * 1000)


class _OAuth:
    def __init__(
        self,
        deps: ApiDeps,
        key: TokenKey,
        identities: IdentityStore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.deps = deps
        self.key = key
        self.identities = identities
        self.clock = clock
        self.throttle = LoginThrottle(deps.settings.enrollment_max_failures)
        self._logins = asyncio.Semaphore(MAX_CONCURRENT_LOGINS)

    async def token(self, request: Request) -> Response:
        caller = caller_of(request)
        if caller.transport != "https":
            raise HTTPException(403, "tokens are issued on the HTTPS port only")
        fields = dict(request.query_params)
        if (request.headers.get("content-type") or "").startswith("application/x-www-form-urlencoded"):
            body = (await read_body(request, MAX_FORM_BYTES)).decode("utf-8", "replace")
            fields |= {k: v for k, v in _form(body).items() if v}
        if fields.get("grant_type") != "password":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        name, password = fields.get("username", ""), fields.get("password", "")
        address = caller.address.rsplit(":", 1)[0]
        started = self.clock()
        verdict = self.throttle.attempt(name, address, started)
        if not verdict.allowed:
            headers = {"Retry-After": str(verdict.retry_after_s)}
            raise HTTPException(429, "too many failed logins; retry later", headers=headers)
        user = await self._authenticate(name, password) if name else None
        if user is None:
            log.info("oauth: failed login of user %r from %s", name, address)
            refusal = {"error": "invalid_grant", "error_description": "Bad credentials"}
            return JSONResponse(refusal, status_code=401)
        self.throttle.succeeded(name, address, started)
        token = self.key.issue(user, self.deps.now_ms() // 1000)
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "scope": "read",
        }
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    async def _authenticate(self, name: str, password: str) -> str | None:
        async with self._logins:
            user = await asyncio.to_thread(self.identities.authenticate, name, password)
        return None if user is None else user.name


def _form(body: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError as exc:
        raise HTTPException(400, "too many form fields") from exc


def auth_routes(
    deps: ApiDeps, key: TokenKey, identities: IdentityStore, authority: CertificateAuthority
) -> list[BaseRoute]:
    """``/oauth/token``, and ``/Marti/api/tls/config`` for clients already holding a certificate
    (node-tak reads it before renewing one; the enrollment port serves it with a password)."""
    handlers = _OAuth(deps, key, identities)

    async def tls_config(request: Request) -> Response:
        caller_of(request)
        return Response(config_xml(authority.name_entries), media_type="application/xml")

    return [
        Route("/oauth/token", handlers.token, methods=["POST"]),
        Route("/Marti/api/tls/config", tls_config, methods=["GET"]),
    ]
