"""``GET /Marti/api/subscriptions/all``: the streaming connections a caller may see (TAK Server's
SubscriptionApi ``getAllSubscriptions``, which node-tak's ``Subscription.list`` calls).

TAK Server lets a non-admin see the connections that share a group with it; so does this:
``SubscriptionInfo`` rows (envelope type ``SubscriptionInfo``) of the connected clients whose
groups meet the caller's, each showing only the groups the caller is in. Sorted by
``sortBy=CALLSIGN|CLIENT_UID`` and ``direction=ASCENDING|DESCENDING``; ``page``/``limit`` page
it as TAK does (``-1``: everything).
"""

from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.timefmt import format_time
from rallypoint.http.common.deps import caller_of, envelope
from rallypoint.http.common.query import int_param
from rallypoint.router.registry import ClientInfo
from rallypoint.router.router import Router

SUBSCRIPTION_INFO_TYPE = "SubscriptionInfo"
SORT_FIELDS = ("CALLSIGN", "CLIENT_UID", "UID")
"""TAK's SubscriptionSortField, and the ``UID`` node-tak's schema offers."""
DIRECTIONS = ("ASCENDING", "DESCENDING")
MAX_PAGE_SIZE = 10_000


DEVICE_METRICS = (
    "appFramerate",
    "battery",
    "batteryStatus",
    "batteryTemp",
    "deviceDataRx",
    "deviceDataTx",
    "heapCurrentSize",
    "heapFreeSize",
    "heapMaxSize",
    "deviceIPAddress",
    "storageAvailable",
    "storageTotal",
)
"""Device metrics TAK fills from a plugin's reports; Rallypoint has none, so they are empty."""


def subscription_info(client: ClientInfo, shown: frozenset[str], now_ms: int) -> dict[str, Any]:
    """One connection as TAK's SubscriptionInfo (fields it cannot know left empty, as TAK does).

    A group's ``created`` is the day the connection joined it (TAK's date-only form)."""
    host, _, port = client.address.rpartition(":")
    joined = format_time(client.connected_at)[:10]
    return {
        "dn": "",
        "callsign": client.callsign or client.uid or "",
        "clientUid": client.uid or "",
        "lastReportMilliseconds": client.last_seen,
        "takClient": "",
        "takVersion": "",
        "username": client.identity or "",
        "groups": [
            {
                "name": name,
                "direction": direction,
                "created": joined,
                "type": "SYSTEM",
                "bitpos": position,
                "active": True,
            }
            for position, name in enumerate(sorted(shown))
            for direction in ("IN", "OUT")
        ],
        "role": client.role or "",
        "team": client.team or "",
        "ipAddress": host,
        "port": port,
        "pendingWrites": 0,
        "numProcessed": 0,
        "protocol": client.transport,
        "xpath": "",
        "subscriptionUid": client.uid or "",
        "incognito": False,
        "handlerType": "",
        "lastReportDiffMilliseconds": max(0, now_ms - client.last_seen),
        **dict.fromkeys(DEVICE_METRICS, ""),
    }


def subscription_routes(router: Router, node: str, now_ms: Callable[[], int]) -> list[BaseRoute]:
    async def all_subscriptions(request: Request) -> Response:
        caller = caller_of(request)
        query = request.query_params
        sort_by, direction = query.get("sortBy", "CALLSIGN"), query.get("direction", "ASCENDING")
        if sort_by not in SORT_FIELDS or direction not in DIRECTIONS:
            raise HTTPException(400, f"sortBy is one of {SORT_FIELDS}, direction one of {DIRECTIONS}")
        page = int_param(request, "page", -1, low=-1, high=1_000_000)
        limit = int_param(request, "limit", -1, low=-1, high=MAX_PAGE_SIZE)
        rows = [
            subscription_info(client, client.groups & caller.groups, now_ms())
            for client in router.registry.clients()
            if not client.groups.isdisjoint(caller.groups)
        ]
        key = "callsign" if sort_by == "CALLSIGN" else "clientUid"  # UID and CLIENT_UID alike
        rows.sort(key=lambda row: (str(row[key]), str(row["clientUid"])), reverse=direction == "DESCENDING")
        if page >= 0 and limit > 0:
            rows = rows[page * limit : (page + 1) * limit]
        return JSONResponse(envelope(SUBSCRIPTION_INFO_TYPE, rows, node))

    return [Route("/Marti/api/subscriptions/all", all_subscriptions, methods=["GET"])]
