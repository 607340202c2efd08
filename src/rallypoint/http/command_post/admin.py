"""User and certificate administration from the command post: ``/api/users``.

An incident commander should not need a shell to add a crew: the same operations as
``rallypoint user add`` / ``cert issue`` / ``cert revoke``, on the same identity store, CA and
audit log, for members of :data:`ADMIN_GROUP` only. Every change is audited with the admin who
made it. A new certificate is answered once (PEM certificate and key, and a PKCS#12 keystore
with its password) and never stored by the web side; revoking rewrites the CRL, and the
server's identity watch ends the sessions and connections that used the revoked certificates.
"""

import asyncio
import base64
from typing import Any, TypeGuard

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.errors import PkiError
from rallypoint.http.command_post.admin_access import (
    MAX_ADMIN_BODY_BYTES,
    NO_STORE,
    AdminDeps,
    ConnectPoints,
    audit_issued,
    existing,
    issue_for,
    require_admin,
    user_json,
)
from rallypoint.http.command_post.admin_devices import device_routes
from rallypoint.http.command_post.admin_groups import MAX_GROUPS, group_routes
from rallypoint.http.command_post.admin_onboarding import onboarding_routes
from rallypoint.http.command_post.login import read_json
from rallypoint.http.common.deps import ADMIN_GROUP, Caller
from rallypoint.pki.admin import certificate_pem
from rallypoint.pki.authority import private_pem
from rallypoint.pki.certificate_records import CertificateRecord
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.keystores import client_keystore


def admin_routes(deps: AdminDeps) -> list[BaseRoute]:
    """``GET``/``POST /api/users``, ``POST /api/users/{name}/certificate`` and ``…/revoke``, and
    the routes of the groups, onboarding and devices pages."""

    def gate(request: Request) -> tuple[Caller, IdentityStore]:
        return require_admin(request, deps)

    async def index(request: Request) -> Response:
        _, store = gate(request)

        def listing() -> list[dict[str, Any]]:
            return [user_json(user, store.certificates(user.name)) for user in store.users()]

        return JSONResponse(await asyncio.to_thread(listing))

    async def create(request: Request) -> Response:
        caller, store = gate(request)
        body = await read_json(request, MAX_ADMIN_BODY_BYTES)
        name, password, groups, role = (
            body.get("name"),
            body.get("password"),
            body.get("groups"),
            body.get("role"),
        )
        if not isinstance(name, str) or not isinstance(password, str) or not password:
            raise HTTPException(400, "name and password (non-empty strings) are required")
        if not _group_list(groups):
            raise HTTPException(400, f"groups must be a list of 1 to {MAX_GROUPS} group names")
        if role is not None and not isinstance(role, str):
            raise HTTPException(400, "role must be a string")
        try:
            user = await asyncio.to_thread(store.add_user, name, password, groups, role or None)
        except PkiError as exc:
            raise HTTPException(409 if store.user(name) else 400, str(exc)) from exc
        deps.audit(
            "user_added", user=user.name, groups=",".join(sorted(user.groups)), role=user.role, by=caller.name
        )
        return JSONResponse(user_json(user, []), status_code=201)

    async def issue(request: Request) -> Response:
        caller, store = gate(request)
        user = existing(store, request.path_params["name"])
        if user.disabled:
            raise HTTPException(409, f"user {user.name} is disabled")
        now = deps.now()

        def make() -> dict[str, Any]:
            made = issue_for(deps, store, user, now)
            record = made.record
            keystore = client_keystore(
                user.name, made.certificate, made.key, made.authority.certificate, made.password
            )
            return {
                "serial": f"{record.serial:x}",
                "notAfter": record.not_after.isoformat(),
                "fingerprint": record.fingerprint,
                "certificate": (
                    certificate_pem(made.certificate) + certificate_pem(made.authority.certificate)
                ).decode(),
                "key": private_pem(made.key).decode(),
                "p12": base64.b64encode(keystore).decode(),
                "p12Password": made.password,
            }

        issued = await asyncio.to_thread(make)
        audit_issued(deps, user, issued, via="web", by=caller)
        return JSONResponse(issued, status_code=201, headers=NO_STORE)

    async def revoke(request: Request) -> Response:
        caller, store = gate(request)
        user = existing(store, request.path_params["name"])
        now = deps.now()

        def withdraw() -> list[CertificateRecord]:
            records = store.revoke(user.name, now)
            deps.authority(now).write_crl(store.revoked(), now)
            return records

        records = await asyncio.to_thread(withdraw)
        serials = ",".join(f"{record.serial:x}" for record in records)
        deps.audit(
            "revocation", user=user.name, serials=serials, count=len(records), via="web", by=caller.name
        )
        return JSONResponse({"user": user.name, "revoked": [f"{r.serial:x}" for r in records]})

    return [
        Route("/api/users", index, methods=["GET"]),
        Route("/api/users", create, methods=["POST"]),
        Route("/api/users/{name}/certificate", issue, methods=["POST"]),
        Route("/api/users/{name}/revoke", revoke, methods=["POST"]),
        *group_routes(deps),
        *onboarding_routes(deps),
        *device_routes(deps),
    ]


def _group_list(groups: object) -> TypeGuard[list[str]]:
    return (
        isinstance(groups, list)
        and 0 < len(groups) <= MAX_GROUPS
        and all(isinstance(group, str) for group in groups)
    )


__all__ = ["ADMIN_GROUP", "AdminDeps", "ConnectPoints", "admin_routes"]
