"""Who may administer from the command post, and what every admin route is given.

Administration is server-wide, as ``rallypoint user …`` is on the command line: a member of
:data:`ADMIN_GROUP` (``rallypoint.http.common.deps``) manages every user, group and device,
whatever their groups; everyone else is answered 403 before anything is read. The session
gate in front of ``/api`` already checked the login, the CSRF token and the Origin of every
POST.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from starlette.exceptions import HTTPException
from starlette.requests import Request

from rallypoint.http.command_post.login import Audit
from rallypoint.http.common.deps import Caller, caller_of
from rallypoint.http.common.deps import require_admin as require_admin_caller
from rallypoint.http.common.ratelimit import LoginThrottle
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.certificate_records import CertificateRecord
from rallypoint.pki.certificates import PrivateKey
from rallypoint.pki.identities import IdentityStore, User
from rallypoint.pki.keystores import new_password
from rallypoint.router.router import Router

MAX_ADMIN_BODY_BYTES = 16 * 1024
MAX_PASSWORD_FAILURES = 10
"""Failed password checks a minute per user and per address when no throttle is shared."""
NO_STORE = {"Cache-Control": "no-store"}
"""Answers that carry a secret (a key, a keystore password, a QR code holding a password)."""


@dataclass(frozen=True)
class ConnectPoints:
    """Where devices reach this server: the names its certificate holds and the bound ports."""

    hostnames: tuple[str, ...] = ()
    tls_port: int | None = None
    """TLS streaming (None: off), which a connection package connects to."""
    enrollment_port: int | None = None
    """Certificate enrollment (None: off), which a QR code's link enrolls on."""


Disconnect = Callable[[str], int]
"""Close this node's connections bound to a device uid; how many were closed."""


@dataclass(frozen=True)
class AdminDeps:
    """The identity store, the CA (created on first use, as ``cert issue`` does), the audit,
    and the router whose device register the devices page shows."""

    identities: IdentityStore | None
    authority: Callable[[datetime], CertificateAuthority]
    audit: Audit
    validity_days: int
    now: Callable[[], datetime]
    router: Router | None = None
    disconnect: Disconnect = lambda uid: 0
    connect: ConnectPoints = field(default_factory=ConnectPoints)
    throttle: LoginThrottle = field(default_factory=lambda: LoginThrottle(MAX_PASSWORD_FAILURES))
    """The login page's throttle: a password the admin types for a QR code is a guess like a login."""
    clock: Callable[[], float] = time.monotonic


def require_admin(request: Request, deps: AdminDeps) -> tuple[Caller, IdentityStore]:
    """The calling admin and the identity store, or 403 (not an admin) / 503 (no store)."""
    caller = caller_of(request)
    require_admin_caller(caller, "administer this server")
    if deps.identities is None:
        raise HTTPException(503, "this server keeps no identity store")
    return caller, deps.identities


def existing(store: IdentityStore, name: str) -> User:
    """The user called ``name``, or 404."""
    user = store.user(name)
    if user is None:
        raise HTTPException(404, f"no user named {name!r}")
    return user


@dataclass(frozen=True)
class Issued:
    """A certificate just issued to a user from the page, recorded, with a fresh password for
    whatever carries its key (a keystore or a connection package)."""

    authority: CertificateAuthority
    certificate: x509.Certificate
    key: PrivateKey
    record: CertificateRecord
    password: str


def issue_for(deps: AdminDeps, store: IdentityStore, user: User, now: datetime) -> Issued:
    """Issue ``user`` a certificate and record it, as ``rallypoint cert issue`` does (blocking:
    run it in a thread)."""
    authority = deps.authority(now)
    certificate, key = authority.issue(user.name, now, deps.validity_days)
    record = store.record_certificate(certificate, user.name)
    return Issued(authority, certificate, key, record, new_password())


def audit_issued(deps: AdminDeps, user: User, issued: dict[str, Any], *, via: str, by: Caller) -> None:
    """The audit entry of a certificate issued from the page (``issued`` as answered)."""
    deps.audit(
        "certificate_issued",
        user=user.name,
        serial=issued["serial"],
        fingerprint=issued["fingerprint"],
        via=via,
        by=by.name,
    )


def user_json(user: User, certificates: list[CertificateRecord]) -> dict[str, Any]:
    """A user as the admin pages show it, with its certificates (never a secret)."""
    return {
        "name": user.name,
        "groups": sorted(user.groups),
        "role": user.role,
        "disabled": user.disabled,
        "certificates": [
            {
                "serial": f"{c.serial:x}",
                "notAfter": c.not_after.isoformat(),
                "revoked": c.revoked_at.isoformat() if c.revoked_at else None,
                "fingerprint": c.fingerprint,
            }
            for c in certificates
        ],
    }
