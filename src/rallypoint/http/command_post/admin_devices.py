"""Connected devices from the command post: ``/api/devices`` and disconnecting one.

The rows come from the router's one register of known devices (uid, callsign, team, groups,
connected or when last seen), joined with the connection bound to the uid on this node, which
adds the user its certificate names, its address and transport and when it connected. A
device on another cluster node shows that node; only a device connected here can be
disconnected. A disconnected TAK client usually reconnects within seconds: to keep a device
out for good, revoke its user's certificates (or disable the user) as well.
"""

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.http.command_post.admin_access import AdminDeps, require_admin
from rallypoint.router.devices import Device
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router

MAX_LISTED_DEVICES = 2_000
"""Rows the page gets at most: connected devices first, then the most recently seen."""


def device_json(device: Device, connection: Subscriber | None) -> dict[str, Any]:
    """One row of the devices page; the connection's part only for a device connected here."""
    row: dict[str, Any] = {
        "uid": device.uid,
        "callsign": device.callsign,
        "team": device.team,
        "groups": sorted(device.groups),
        "connected": device.connected,
        "node": device.node or None,
        "user": None,
        "address": None,
        "transport": None,
        "connectedSince": None,
        "lastSeen": device.last_seen,
    }
    if connection is not None and device.connected and not device.node:
        row.update(
            user=connection.identity,
            address=connection.address,
            transport=connection.transport,
            connectedSince=connection.connected_at,
            lastSeen=max(device.last_seen, connection.last_seen),
        )
    return row


def devices_json(router: Router) -> list[dict[str, Any]]:
    """The register, connected devices first, then by last seen (newest first), bounded."""
    devices = sorted(router.devices.devices(), key=lambda d: (not d.connected, -d.last_seen, d.uid))
    return [device_json(d, router.registry.by_uid(d.uid)) for d in devices[:MAX_LISTED_DEVICES]]


def device_routes(deps: AdminDeps) -> list[BaseRoute]:
    """``GET /api/devices`` and ``POST /api/devices/{uid}/disconnect``."""

    def router_of(request: Request) -> tuple[str | None, Router]:
        caller, _ = require_admin(request, deps)
        if deps.router is None:
            raise HTTPException(503, "this server has no device register")
        return caller.name, deps.router

    async def index(request: Request) -> Response:
        _, router = router_of(request)
        return JSONResponse(devices_json(router))

    async def disconnect(request: Request) -> Response:
        admin, router = router_of(request)
        uid = request.path_params["uid"]
        device = router.devices.get(uid)
        if device is None:
            raise HTTPException(404, f"no device {uid!r} is known")
        if not device.connected:
            raise HTTPException(409, f"{device.callsign or uid} is not connected")
        if device.node:
            raise HTTPException(409, f"{device.callsign or uid} is connected to node {device.node}")
        connection = router.registry.by_uid(uid)
        closed = deps.disconnect(uid)
        deps.audit(
            "device_disconnected",
            uid=uid,
            callsign=device.callsign,
            user=connection.identity if connection is not None else None,
            address=connection.address if connection is not None else None,
            connections=closed,
            by=admin,
        )
        return JSONResponse({"uid": uid, "closed": closed})

    return [
        Route("/api/devices", index, methods=["GET"]),
        Route("/api/devices/{uid}/disconnect", disconnect, methods=["POST"]),
    ]
