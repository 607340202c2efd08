"""TAK Server's locate API: ``POST /locate/api?latitude&longitude&name&remarks``.

Someone without a TAK client (a phone's browser, a form on an incident page) reports where
they are; the server turns it into a CoT marker and routes it to one configured group, where
every TAK client sees it. As TAK Server's ``LocateApi`` does:

- the four parameters are required (query string or a form body); the marker has a new uid,
  the configured CoT type (``locate_cot_type``), ``how="h-g-i-g-o"``, the name as its callsign
  (with `` (user)`` appended when the caller has a certificate), ``takv`` ``Locator``, an
  ``archive`` flag, a ``p-p`` link to itself and the remarks;
- it is routed as the server into ``locate_group`` only, whatever the caller's own groups.

The service is off unless ``locate_enabled`` (TAK's ``locate`` element is absent by default);
then the path answers 404. Since the plain port lets anyone post, input is checked strictly
(finite WGS-84 coordinates, bounded text without control characters: 400 otherwise) and each
client address may post :attr:`~rallypoint.config.Settings.locate_max_per_minute` positions a
minute (429 beyond, with ``Retry-After``). TAK Server sets the marker stale after a year (an
``int`` overflow makes that about 17 days); Rallypoint after :data:`LOCATE_STALE_MS`. TAK can
also add the marker to a mission (``addToMission``); that is not done here.
"""

import logging
import math
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import parse_qsl

from lxml import etree
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.drawing import check_text
from rallypoint.cot.event import Event, Point
from rallypoint.cot.xml import parse_detail, serialize_event
from rallypoint.errors import InvalidEvent
from rallypoint.http.common.deps import ApiDeps, Caller, caller_of
from rallypoint.http.common.query import read_body

log = logging.getLogger(__name__)

LOCATE_STALE_MS = 24 * 3600 * 1000
"""A reported position is shown for a day: a person on foot has moved on by then."""
LOCATE_HOW = "h-g-i-g-o"
UNKNOWN = 999999.0
"""TAK's locate markers carry no height or error estimate."""
MAX_NAME_CHARS = 64
MAX_REMARKS_CHARS = 1024
MAX_FORM_BYTES = 4096
WINDOW_S = 60.0
MAX_TRACKED_ADDRESSES = 10_000
SERVER_TRANSPORT = "server"
"""Routed as the server's own event: into the configured group, not the caller's."""


class PostLimiter:
    """Posts per client address in a sliding minute, sans-I/O (the clock is passed in)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = max(1, per_minute)
        self.clock = clock
        self._posts: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, address: str) -> int:
        """0 if ``address`` may post now (the post is counted), else the seconds to wait."""
        now = self.clock()
        posts = self._posts.pop(address, deque())
        while posts and posts[0] <= now - WINDOW_S:
            posts.popleft()
        self._posts[address] = posts
        while len(self._posts) > MAX_TRACKED_ADDRESSES:
            self._posts.popitem(last=False)
        if len(posts) >= self.per_minute:
            return max(1, math.ceil(posts[0] + WINDOW_S - now))
        posts.append(now)
        return 0


def _coordinate(text: str | None, name: str, bound: float) -> float:
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise HTTPException(400, f"{name} is a number of -{bound:g}..{bound:g}")
    return value


def locate_event(
    lat: float, lon: float, callsign: str, remarks: str, *, cot_type: str, uid: str, now_ms: int
) -> Event:
    """The marker TAK Server's locate service makes of one report."""
    elements = [
        etree.Element("contact", callsign=callsign),
        etree.Element("takv", device="Locator", platform="Locator", os="Locator", version="1.0"),
        etree.Element("archive"),
        etree.Element("usericon", iconsetpath="COT_MAPPING_2525B/"),
        etree.Element("link", relation="p-p", type="a-f-G-U-C-I", uid=uid),
    ]
    note = etree.Element("remarks")
    note.text = remarks
    elements.append(note)
    detail = parse_detail("".join(etree.tostring(e, encoding="unicode") for e in elements))
    return Event(
        uid=uid,
        type=cot_type,
        how=LOCATE_HOW,
        time=now_ms,
        start=now_ms,
        stale=now_ms + LOCATE_STALE_MS,
        point=Point(lat, lon, UNKNOWN, UNKNOWN, UNKNOWN),
        detail=detail,
    )


class Locate:
    def __init__(self, deps: ApiDeps, limiter: PostLimiter) -> None:
        self.deps = deps
        self.limiter = limiter
        self.group = frozenset({deps.settings.locate_group})

    async def _parameters(self, request: Request) -> dict[str, str]:
        values = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            body = await read_body(request, MAX_FORM_BYTES)
            try:
                values.update(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
            except UnicodeDecodeError:
                raise HTTPException(400, "the form is not UTF-8") from None
        return values

    async def locate(self, request: Request) -> Response:
        caller = caller_of(request)
        if not self.deps.settings.locate_enabled:
            raise HTTPException(404, "the locate service is off on this server (locate_enabled)")
        wait = self.limiter.allow(caller.address.rsplit(":", 1)[0])
        if wait:
            raise HTTPException(
                429, "too many positions from this address", headers={"Retry-After": str(wait)}
            )
        values = await self._parameters(request)
        lat = _coordinate(values.get("latitude"), "latitude", 90)
        lon = _coordinate(values.get("longitude"), "longitude", 180)
        name, remarks = values.get("name"), values.get("remarks")
        if name is None or remarks is None:
            raise HTTPException(400, "latitude, longitude, name and remarks are required")
        try:
            check_text(name, "name", MAX_NAME_CHARS, required=True)
            check_text(remarks, "remarks", MAX_REMARKS_CHARS, multiline=True)
        except InvalidEvent as exc:
            raise HTTPException(400, str(exc)) from exc
        callsign = f"{name} ({caller.name})" if caller.name else name
        uid = str(uuid.uuid4())
        event = locate_event(
            lat,
            lon,
            callsign,
            remarks,
            cot_type=self.deps.settings.locate_cot_type,
            uid=uid,
            now_ms=self.deps.now_ms(),
        )
        sender = Caller(None, self.group, SERVER_TRANSPORT, caller.address)
        delivered = self.deps.submit(sender, event, serialize_event(event))
        log.info("locate: %s from %s routed to %d client(s)", uid, caller.address, delivered)
        return Response(status_code=200)


def locate_routes(deps: ApiDeps, clock: Callable[[], float] = time.monotonic) -> list[BaseRoute]:
    handlers = Locate(deps, PostLimiter(deps.settings.locate_max_per_minute, clock))
    return [Route("/locate/api", handlers.locate, methods=["POST"])]
