"""Certificate enrollment for TAK clients (reference §4.6), as served on port 8446.

A device that knows a user's name and password gets a client certificate: it asks for the
subject entries (``GET /Marti/api/tls/config``), makes a key pair and a CSR, and posts the CSR
(``POST /Marti/api/tls/signClient/v2``, or the older ``signClient`` that ATAK-CIV uses). Every
call is HTTP Basic authenticated against the identity store and goes through the failed-login
throttle first (:mod:`rallypoint.http.common.ratelimit`). Client mistakes get a clear 4xx status, never
a 500: a refused CSR is 400 (TAK Server answers 500), an unusable ``Accept`` is 406 (TAK
Server answers 400; 406 is the status HTTP defines for it).
"""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from rallypoint.config import Settings
from rallypoint.errors import AuthenticationError, EnrollmentRefused, PkiError
from rallypoint.http.common.headers import SecurityHeaders
from rallypoint.http.common.ratelimit import LoginThrottle
from rallypoint.pki.audit import AuditLog
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.enrollment_formats import (
    JSON,
    PKCS12_MEDIA_TYPE,
    XML,
    BasicCredentials,
    config_xml,
    enrollment_json,
    enrollment_xml,
    legacy_keystore,
    parse_basic_auth,
    parse_csr,
    response_format,
)
from rallypoint.pki.identities import IdentityStore, User

log = logging.getLogger(__name__)

REALM = "Rallypoint"
MAX_BODY_BYTES = 16 * 1024
"""Largest accepted CSR body; real ones (RSA 4096 with PEM armor) stay under 4 KiB."""
MAX_CLIENT_UID_CHARS = 256
"""Longest accepted ``clientUid`` (device uids are UUIDs or ``ANDROID-<hex>``); it is stored."""
MAX_CONCURRENT_LOGINS = 4
"""Password hashes computed at once: each costs tens of milliseconds and megabytes of memory
(scrypt), so a flood of logins queues here instead of exhausting the machine."""
UNKNOWN_ADDRESS = "unknown"


class Enrollment:
    """The request handlers, and what they share: CA, identity store, audit log, throttle."""

    def __init__(
        self,
        authority: CertificateAuthority,
        identities: IdentityStore,
        audit: AuditLog,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.authority = authority
        self.clock = clock
        """Monotonic seconds for the login throttle (the server passes its one clock)."""
        self.identities = identities
        self.audit = audit
        self.settings = settings
        self.throttle = LoginThrottle(settings.enrollment_max_failures)
        self._logins = asyncio.Semaphore(MAX_CONCURRENT_LOGINS)

    async def config(self, request: Request) -> Response:
        """The CSR subject entries clients must use, in TAK Server's XML."""
        await self.login(request)
        return Response(config_xml(self.authority.name_entries), media_type="application/xml")

    async def sign_v2(self, request: Request) -> Response:
        """Sign a CSR; answer JSON or XML as the ``Accept`` header asks."""
        user = await self.login(request)
        form = response_format(request.headers.get("accept"))
        if form is None:
            raise HTTPException(406, "Accept must allow application/json or application/xml")
        certificate = await self.sign(request, user)
        ca = self.authority.certificate
        if form == XML:
            return Response(enrollment_xml(certificate, ca), media_type="application/xml")
        assert form == JSON
        return JSONResponse(enrollment_json(certificate, ca))

    async def sign_legacy(self, request: Request) -> Response:
        """Sign a CSR; answer the PKCS#12 of signed certificate and CA that ATAK-CIV reads."""
        user = await self.login(request)
        certificate = await self.sign(request, user)
        keystore = await asyncio.to_thread(legacy_keystore, certificate, self.authority.certificate)
        return Response(keystore, media_type=PKCS12_MEDIA_TYPE)

    async def enrollment_profile(self, request: Request) -> Response:
        """ATAK asks for a profile right after enrolling; there is nothing to provision yet."""
        await self.login(request)
        return Response(status_code=204)

    async def login(self, request: Request) -> User:
        """The user the Basic credentials name, or an HTTP error (401, or 429 while throttled)."""
        address = request.client.host if request.client else UNKNOWN_ADDRESS
        try:
            credentials = parse_basic_auth(request.headers.get("authorization"))
        except AuthenticationError as exc:
            log.info("enrollment: unreadable credentials from %s: %s", address, exc)
            credentials = BasicCredentials("", "")
        if credentials is None:
            raise _challenge("credentials required")
        started = self.clock()
        verdict = self.throttle.attempt(credentials.name, address, started)
        if not verdict.allowed:
            if verdict.report:
                log.warning(
                    "enrollment: throttling logins (%s limit) of user %r from %s for %d s",
                    verdict.limited_by,
                    credentials.name,
                    address,
                    verdict.retry_after_s,
                )
                self._audit(
                    "login_failed",
                    user=credentials.name,
                    address=address,
                    reason=f"throttled ({verdict.limited_by})",
                )
            raise HTTPException(
                429,
                "too many failed logins; retry later",
                headers={"Retry-After": str(verdict.retry_after_s)},
            )
        user = await self._authenticate(credentials) if credentials.name else None
        if user is None:
            log.info("enrollment: failed login of user %r from %s", credentials.name, address)
            self._audit("login_failed", user=credentials.name, address=address, reason="bad credentials")
            raise _challenge("wrong user name or password")
        self.throttle.succeeded(credentials.name, address, started)
        return user

    async def sign(self, request: Request, user: User) -> x509.Certificate:
        """Check and sign the posted CSR for ``user``; record and audit the outcome."""
        address = request.client.host if request.client else UNKNOWN_ADDRESS
        client_uid = request.query_params.get("clientUid") or None
        if client_uid is not None and len(client_uid) > MAX_CLIENT_UID_CHARS:
            raise HTTPException(400, f"clientUid longer than {MAX_CLIENT_UID_CHARS} characters")
        body = await _read_body(request, MAX_BODY_BYTES)
        now = datetime.now(UTC)
        try:
            # Parsing, checking and signing run in a worker thread: a large RSA key or a flood
            # of CSRs from enrolled users must not stall the streaming clients on the loop.
            certificate = await asyncio.to_thread(self._signed, body, user.name, now)
        except EnrollmentRefused as exc:
            log.warning(
                "enrollment of %r (client %r) from %s refused: %s", user.name, client_uid, address, exc
            )
            self._audit(
                "enrollment_refused", user=user.name, address=address, client_uid=client_uid, reason=str(exc)
            )
            raise HTTPException(400, f"CSR refused: {exc}") from exc
        await asyncio.to_thread(self.identities.record_certificate, certificate, user.name, client_uid)
        serial = certificate.serial_number
        log.info(
            "enrolled %r (client %r) from %s: certificate serial %x", user.name, client_uid, address, serial
        )
        self._audit(
            "enrollment", user=user.name, address=address, client_uid=client_uid, serial=f"{serial:x}"
        )
        return certificate

    def _signed(self, body: bytes, user: str, now: datetime) -> x509.Certificate:
        return self.authority.sign_csr(parse_csr(body), user, now, self.settings.certificate_validity_days)

    async def _authenticate(self, credentials: BasicCredentials) -> User | None:
        # The slow password hash runs in a worker thread so streaming clients are not held up.
        async with self._logins:
            return await asyncio.to_thread(
                self.identities.authenticate, credentials.name, credentials.password
            )

    def _audit(self, kind: str, **fields: str | int | None) -> None:
        try:
            self.audit.append(kind, datetime.now(UTC), **fields)
        except PkiError as exc:  # a full disk must not turn an issued certificate into a 500
            log.error("audit entry %s lost: %s", kind, exc)


def build_enrollment_app(
    authority: CertificateAuthority,
    identities: IdentityStore,
    audit: AuditLog,
    settings: Settings,
    clock: Callable[[], float] = time.monotonic,
) -> ASGIApp:
    """The ASGI application of the enrollment port."""
    enrollment = Enrollment(authority, identities, audit, settings, clock)
    app = Starlette(
        routes=[
            Route("/Marti/api/tls/config", enrollment.config, methods=["GET"]),
            Route("/Marti/api/tls/signClient/v2", enrollment.sign_v2, methods=["POST"]),
            Route("/Marti/api/tls/signClient", enrollment.sign_legacy, methods=["POST"]),
            Route("/Marti/api/tls/profile/enrollment", enrollment.enrollment_profile, methods=["GET"]),
        ]
    )
    return SecurityHeaders(app)


def _challenge(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    return bytes(body)
