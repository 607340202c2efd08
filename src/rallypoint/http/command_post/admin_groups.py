"""Groups from the command post: ``/api/groups``, who is in each, and membership changes.

A group exists while some user is in it (the identity store keeps memberships, not groups), so
the page lists the groups of the users and adds or removes one user at a time, the way
``rallypoint user groups`` replaces them. The server's identity watch applies a change to open
connections (they are moved to the new groups) and ends the web sessions of the user changed.
Two changes are refused because nobody could undo them from the page: removing a user's last
group (disable the user instead) and an admin removing their own :data:`ADMIN_GROUP` membership.
"""

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.errors import PkiError
from rallypoint.http.command_post.admin_access import (
    MAX_ADMIN_BODY_BYTES,
    AdminDeps,
    existing,
    require_admin,
    user_json,
)
from rallypoint.http.command_post.login import read_json
from rallypoint.http.common.deps import ADMIN_GROUP
from rallypoint.pki.identities import IdentityStore, User

MAX_GROUPS = 64
"""Groups one user may be given from the page (the CLI has no such need to be bounded)."""


def groups_json(users: list[User]) -> list[dict[str, Any]]:
    """Every group some user is in, by name, with its members by name."""
    members: dict[str, list[str]] = {}
    for user in users:
        for group in user.groups:
            members.setdefault(group, []).append(user.name)
    return [{"name": group, "members": sorted(members[group])} for group in sorted(members)]


def group_routes(deps: AdminDeps) -> list[BaseRoute]:
    """``GET /api/groups``, ``POST /api/groups/{group}/members`` (body ``{"user"}``) and
    ``POST /api/groups/{group}/members/{user}/remove``."""

    async def index(request: Request) -> Response:
        _, store = require_admin(request, deps)
        return JSONResponse(groups_json(await asyncio.to_thread(store.users)))

    async def add(request: Request) -> Response:
        caller, store = require_admin(request, deps)
        group = request.path_params["group"]
        name = (await read_json(request, MAX_ADMIN_BODY_BYTES)).get("user")
        if not isinstance(name, str):
            raise HTTPException(400, "user (a user name) is required")
        user = existing(store, name)
        if group in user.groups:
            return JSONResponse(user_json(user, store.certificates(user.name)))
        if len(user.groups) >= MAX_GROUPS:
            raise HTTPException(409, f"{user.name} is already in {MAX_GROUPS} groups")
        changed = await _set_groups(store, user, user.groups | {group})
        deps.audit(
            "user_changed",
            user=user.name,
            change="group_added",
            group=group,
            groups=_joined(changed),
            by=caller.name,
        )
        return JSONResponse(user_json(changed, store.certificates(user.name)))

    async def remove(request: Request) -> Response:
        caller, store = require_admin(request, deps)
        group = request.path_params["group"]
        user = existing(store, request.path_params["user"])
        if group not in user.groups:
            raise HTTPException(404, f"{user.name} is not in group {group!r}")
        if user.groups == {group}:
            raise HTTPException(409, f"{group!r} is the last group of {user.name}: disable the user instead")
        if group == ADMIN_GROUP and user.name.casefold() == (caller.name or "").casefold():
            raise HTTPException(409, f"an admin cannot leave the {ADMIN_GROUP!r} group: ask another admin")
        changed = await _set_groups(store, user, user.groups - {group})
        deps.audit(
            "user_changed",
            user=user.name,
            change="group_removed",
            group=group,
            groups=_joined(changed),
            by=caller.name,
        )
        return JSONResponse(user_json(changed, store.certificates(user.name)))

    return [
        Route("/api/groups", index, methods=["GET"]),
        Route("/api/groups/{group}/members", add, methods=["POST"]),
        Route("/api/groups/{group}/members/{user}/remove", remove, methods=["POST"]),
    ]


async def _set_groups(store: IdentityStore, user: User, groups: frozenset[str]) -> User:
    """Write the new groups (a bad group name is 400) and read the user back."""
    try:
        await asyncio.to_thread(store.set_groups, user.name, sorted(groups))
    except PkiError as exc:
        raise HTTPException(400, str(exc)) from exc
    return existing(store, user.name)


def _joined(user: User) -> str:
    return ",".join(sorted(user.groups))
