"""KML exports (issue 14): a mission's items, and the tracks of a time window.

``GET /Marti/api/missions/{name}/kml[?download=true]`` (``MISSION_READ``): each map item of the
mission (and each objective) as a placemark at its latest position.

``GET``/``POST /Marti/ExportMissionKML?startTime=&endTime=&interval=&uid=&groups=&format=kml|kmz``
(TAK Server's MissionKMLServlet, what ATAK's track export calls): the stored positions in the
window as one track per uid, filtered by the caller's groups (``groups`` may narrow them, never
widen: 403), chat and file-transfer events left out as TAK Server leaves them out. Without
``startTime`` the window is the ``interval`` hours (default 24) before ``endTime`` (default now).
"""

import logging
from collections import defaultdict
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError
from rallypoint.http.common.deps import caller_of
from rallypoint.http.common.query import int_param, time_param
from rallypoint.http.common.uploads import sanitize_name
from rallypoint.http.marti.missions_common import Handler, actor_of, guarded, mission_ref
from rallypoint.missions.kml import KML_MEDIA_TYPE, KMZ_MEDIA_TYPE, KmlItem, Position, kml_document, kmz
from rallypoint.missions.roles import READ
from rallypoint.missions.service import MissionService
from rallypoint.store.base import EventQuery, StoredEvent

log = logging.getLogger(__name__)

EXPORT_PATH = "/Marti/ExportMissionKML"
NOT_POSITIONS = ("b-t-f", "b-f-t-r", "b-f-t-a", "t-x-")
"""Type prefixes left out of a track export: chat, file transfers, control and notifications."""
MAX_EXPORT_EVENTS = 50_000
"""Stored events one export reads at most (a busy day of a few dozen devices)."""
DEFAULT_INTERVAL_H = 24
MAX_INTERVAL_H = 24 * 366
HOUR_MS = 3_600_000


def item_of(event: Event) -> KmlItem:
    position = Position(event.time, event.point.lat, event.point.lon, event.point.hae)
    return KmlItem(event.uid, event.callsign or event.uid, event.type, (position,))


def tracks(events: Iterable[StoredEvent], limits: XmlLimits) -> list[KmlItem]:
    """One item per uid with every position, named by the callsign of its latest event."""
    by_uid: dict[str, list[StoredEvent]] = defaultdict(list)
    for event in events:
        if not event.type.startswith(NOT_POSITIONS):
            by_uid[event.uid].append(event)
    items = []
    for uid, found in sorted(by_uid.items()):
        latest = max(found, key=lambda event: event.time)
        try:
            name = parse_event(latest.xml, limits).callsign or uid
        except ProtocolError:
            name = uid
        positions = tuple(Position(e.time, e.lat, e.lon, e.hae) for e in found)
        items.append(KmlItem(uid, name, latest.type, positions))
    return items


class MissionKml:
    """The two KML handlers."""

    def __init__(self, service: MissionService) -> None:
        self.service = service
        settings = service.host.settings
        self.limits = XmlLimits(settings.max_event_bytes, settings.max_xml_depth)

    def per_mission(self) -> list[tuple[str, Handler, list[str]]]:
        return [("/kml", self.mission_kml, ["GET"])]

    def routes(self) -> list[BaseRoute]:
        return [Route(EXPORT_PATH, guarded(self.export), methods=["GET", "POST"])]

    async def mission_kml(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid", "creatorUid")
        mission = self.service.find(actor, **mission_ref(request))
        await self.service.authorize(mission, actor, READ)
        cache = self.service.host.router.cache
        items: list[KmlItem] = []
        for content in mission.uids.values():
            entry = cache.get(content.uid)
            if entry is not None:
                items.append(item_of(entry.message.event))
            elif content.xml and content.uid not in mission.objectives:
                items.extend(self._parsed(content.xml.encode()))
        for marker in self.service.desk.markers(mission):
            items.extend(self._parsed(marker))
        headers = {}
        if request.query_params.get("download", "").lower() == "true":
            filename = sanitize_name(mission.name, "mission").replace('"', "")
            headers["Content-Disposition"] = f'attachment; filename="{filename}.kml"'
        return Response(kml_document(mission.name, items), media_type=KML_MEDIA_TYPE, headers=headers)

    def _parsed(self, xml: bytes) -> list[KmlItem]:
        try:
            return [item_of(parse_event(xml, self.limits))]
        except ProtocolError:
            return []

    async def export(self, request: Request) -> Response:
        caller = caller_of(request)
        asked = frozenset(request.query_params.getlist("groups"))
        if not asked <= caller.groups:
            raise HTTPException(403, "groups you are not in: " + ", ".join(sorted(asked - caller.groups)))
        end = time_param(request, "endTime") or self.service.host.now_ms()
        hours = int_param(request, "interval", DEFAULT_INTERVAL_H, low=1, high=MAX_INTERVAL_H)
        start = time_param(request, "startTime") or end - hours * HOUR_MS
        if start > end:
            raise HTTPException(400, "startTime is after endTime")
        found = await self.service.store().query_events(
            EventQuery(
                start=start,
                end=end,
                uid=request.query_params.get("uid") or None,
                groups=asked or caller.groups,
                reader=caller.name,
                limit=MAX_EXPORT_EVENTS,
            )
        )
        document = kml_document("Rallypoint tracks", tracks(found, self.limits))
        kind = "kmz" if request.query_params.get("format", "kml").lower() == "kmz" else "kml"
        headers = {"Content-Disposition": f'attachment; filename="tracks.{kind}"'}
        if kind == "kmz":
            return Response(kmz(document), media_type=KMZ_MEDIA_TYPE, headers=headers)
        return Response(document, media_type=KML_MEDIA_TYPE, headers=headers)
