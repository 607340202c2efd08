"""Onboarding a device from the command post: its connection package, or a QR code to scan.

The same two ways as ``rallypoint package NAME`` and ``rallypoint package NAME --qr``, from the
same pki code: a package is a fresh client certificate with the truststore and the connection
preferences in a data package (:func:`~rallypoint.pki.package.connection_package`), answered
once with its random password and never kept; a QR code is the ``tak://…/enroll`` link
(:func:`~rallypoint.pki.qr.enrollment_link`) as a PNG the page shows, for the user's password,
which the admin types and the server checks first (a wrong one would only fail on the device),
through the login page's throttle, so the check is no way around it to guess passwords.
Both are audited; answers are ``no-store`` because they carry secrets.
"""

import asyncio
import base64
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.http.command_post.admin_access import (
    MAX_ADMIN_BODY_BYTES,
    NO_STORE,
    AdminDeps,
    ConnectPoints,
    audit_issued,
    existing,
    issue_for,
    require_admin,
)
from rallypoint.http.command_post.login import read_json
from rallypoint.pki.package import connection_package
from rallypoint.pki.qr import TAK_ENROLLMENT_PORT, TAK_STREAMING_PORT, enrollment_link, enrollment_png

_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")
"""A host name, IPv4 or IPv6 address as it goes into a connect string (no brackets, no spaces)."""


def chosen_host(body: dict[str, object], connect: ConnectPoints) -> tuple[str, list[str]]:
    """The address devices are given (the body's ``host``, else the certificate's first name)
    and warnings a person should read before handing the package over."""
    host = body.get("host")
    if host is None or host == "":
        if not connect.hostnames:
            raise HTTPException(409, "no address for devices: give a host or set the setting hostnames")
        return connect.hostnames[0], []
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        raise HTTPException(400, "host must be a host name or an IP address")
    if host not in connect.hostnames:
        names = ", ".join(connect.hostnames) or "none"
        return host, [f"{host} is not among the server certificate's names ({names}): devices will refuse it"]
    return host, []


def onboarding_routes(deps: AdminDeps) -> list[BaseRoute]:
    """``POST /api/users/{name}/package`` and ``POST /api/users/{name}/enrollment-qr``."""

    async def package(request: Request) -> Response:
        caller, store = require_admin(request, deps)
        tls_port = deps.connect.tls_port
        if tls_port is None:
            raise HTTPException(409, "TLS streaming is off (setting tls_port): nothing to connect to")
        user = existing(store, request.path_params["name"])
        if user.disabled:
            raise HTTPException(409, f"user {user.name} is disabled")
        host, warnings = chosen_host(await read_json(request, MAX_ADMIN_BODY_BYTES), deps.connect)
        now = deps.now()

        def make() -> dict[str, Any]:
            issued = issue_for(deps, store, user, now)
            data = connection_package(
                user.name,
                host=host,
                tls_port=tls_port,
                authority=issued.authority,
                certificate=issued.certificate,
                key=issued.key,
                password=issued.password,
            )
            return {
                "filename": f"{user.name}.zip",
                "zip": base64.b64encode(data).decode(),
                "password": issued.password,
                "serial": f"{issued.record.serial:x}",
                "fingerprint": issued.record.fingerprint,
                "connect": f"{host}:{tls_port}:ssl",
                "warnings": warnings,
            }

        made = await asyncio.to_thread(make)
        audit_issued(deps, user, made, via="web package", by=caller)
        return JSONResponse(made, status_code=201, headers=NO_STORE)

    async def qr(request: Request) -> Response:
        caller, store = require_admin(request, deps)
        enrollment_port = deps.connect.enrollment_port
        if enrollment_port is None:
            raise HTTPException(409, "enrollment is off (setting enrollment_port): nothing to enroll on")
        user = existing(store, request.path_params["name"])
        body = await read_json(request, MAX_ADMIN_BODY_BYTES)
        secret = body.get("password")
        if not isinstance(secret, str) or not secret:
            raise HTTPException(400, f"password (the password of {user.name}) is required")
        host, warnings = chosen_host(body, deps.connect)
        await _check_password(deps, user.name, secret, request.client.host if request.client else "unknown")
        warnings += _port_warnings(deps.connect)
        png = enrollment_png(enrollment_link(host, user.name, secret))
        deps.audit("enrollment_qr_shown", user=user.name, host=host, via="web", by=caller.name)
        answer = {"png": base64.b64encode(png).decode(), "host": host, "warnings": warnings}
        return JSONResponse(answer, headers=NO_STORE)

    return [
        Route("/api/users/{name}/package", package, methods=["POST"]),
        Route("/api/users/{name}/enrollment-qr", qr, methods=["POST"]),
    ]


async def _check_password(deps: AdminDeps, name: str, secret: str, address: str) -> None:
    """422 for a wrong password, 429 past the login throttle, which counts the check like a login
    (per user and per client host, as the login does)."""
    assert deps.identities is not None  # require_admin checked it
    started = deps.clock()
    verdict = deps.throttle.attempt(name, address, started)
    if not verdict.allowed:
        headers = {"Retry-After": str(verdict.retry_after_s)}
        raise HTTPException(429, "too many wrong passwords; retry later", headers=headers)
    if await asyncio.to_thread(deps.identities.authenticate, name, secret) is None:
        deps.audit("login_failed", user=name, address=address, reason="bad credentials", transport="web qr")
        raise HTTPException(422, f"wrong password for {name}, or {name} is disabled")
    deps.throttle.succeeded(name, address, started)


def _port_warnings(connect: ConnectPoints) -> list[str]:
    """The link cannot name ports: a scanning client uses the TAK defaults."""
    return [
        f"{setting} is {port}; clients that scan the code use {expected}"
        for setting, port, expected in (
            ("enrollment_port", connect.enrollment_port, TAK_ENROLLMENT_PORT),
            ("tls_port", connect.tls_port, TAK_STREAMING_PORT),
        )
        if port != expected
    ]
