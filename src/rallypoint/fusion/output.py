"""Fused tracks as CoT events, and as JSON for the REST API.

A track goes out as one CoT event with a MIL-STD-2525 type from its domain and the feed's
affiliation (``a-{aff}-A`` air, ``a-{aff}-S`` sea surface, ``a-{aff}-G`` ground), ``how``
``m-f`` (machine, fused), ``ce``/``le`` from the filter covariance (CoT's "circular and
linear 1-sigma"), ``<contact>`` and ``<track>``, a ``<link relation="p-p">`` to every
contributing CoT uid, and the provenance extension ``<__fusion>`` (one ``<source>`` per
feed: kind, identity, newest report, error estimate, count), documented in
``docs/fusion.md``. A deleted track goes out as a ``t-x-d-d`` with ``<__forcedelete/>``.
"""

from typing import Any

from rallypoint.cot.event import UNKNOWN_DISTANCE, Contact, Detail, Event, Link, Point
from rallypoint.cot.timefmt import format_time
from rallypoint.cot.types import DELETE
from rallypoint.cot.xml import escape_attribute, format_number, parse_detail
from rallypoint.errors import FusionError
from rallypoint.fusion.report import Domain
from rallypoint.fusion.track import Track

FUSION_DETAIL_VERSION = "1"
"""Version of the ``<__fusion>`` extension; bumped on any incompatible change."""

FUSED_HOW = "m-f"
"""CoT ``how``: machine-generated, fused from several sources."""

COT_UID_PREFIX = "uid:"
"""Identities in this namespace are CoT uids, so they get a ``<link>``."""

AFFILIATIONS = frozenset({"p", "u", "a", "f", "n", "s", "h", "j", "k", "o", "x"})
"""MIL-STD-2525 affiliations CoT knows (pending, unknown, assumed friend, friend, neutral, …)."""

_DOMAIN_LETTER = {Domain.AIR: "A", Domain.SEA: "S", Domain.GROUND: "G"}


def cot_type(domain: Domain, affiliation: str = "u") -> str:
    """The 2525 CoT type of a track: ``a-f-A`` for a friendly aircraft, ``a-u-S`` for an unknown vessel."""
    if affiliation not in AFFILIATIONS:
        raise FusionError(f"unknown affiliation {affiliation!r}")
    return f"a-{affiliation}-{_DOMAIN_LETTER[domain]}"


def track_to_event(track: Track, now_ms: int, *, affiliation: str = "u", stale_s: float) -> Event:
    """The CoT event announcing ``track`` at ``now_ms``, stale ``stale_s`` seconds later.

    The point is the track extrapolated to ``now_ms`` (the event's time), not the estimate at
    its newest report: a receiver's 2 s delay put a 150 m/s aircraft 300 m behind on the map.
    """
    kind = cot_type(track.domain, affiliation)
    lat, lon, hae = track.position(max(now_ms, track.time_ms))
    le = track.le
    point = Point(
        lat,
        lon,
        UNKNOWN_DISTANCE if hae is None else hae,
        round(track.ce, 1),
        UNKNOWN_DISTANCE if le is None else round(le, 1),
    )
    detail = fused_detail(track, kind)
    return Event(track.uid, kind, FUSED_HOW, now_ms, now_ms, now_ms + int(stale_s * 1000), point, detail)


def fused_detail(track: Track, kind: str) -> Detail:
    """The track's ``<detail>`` with its routing view built beside the text, not parsed back out
    of it: the text is ours and escaped, so the scan would find exactly the ``<contact>`` and
    ``<link>`` written (re-parsing it was a tenth of the fused output's cost end to end)."""
    links = tuple(
        Link(identity.removeprefix(COT_UID_PREFIX), kind, "p-p")
        for identity in track.identities
        if identity.startswith(COT_UID_PREFIX) and len(identity) > len(COT_UID_PREFIX)
    )
    return Detail(xml=_detail_xml(track, kind), contact=Contact(track.callsign or track.uid), links=links)


def deletion_event(track: Track, now_ms: int, *, affiliation: str = "u") -> Event:
    """The ``t-x-d-d`` event that removes ``track`` from every map."""
    kind = cot_type(track.domain, affiliation)
    link = f'<link uid="{escape_attribute(track.uid)}" relation="none" type="{kind}"/>'
    detail = parse_detail(link + "<__forcedelete/>")
    return Event(f"{track.uid}.delete", DELETE, FUSED_HOW, now_ms, now_ms, now_ms + 20_000, Point(), detail)


def _detail_xml(track: Track, kind: str) -> str:
    course, speed = track.course_speed
    callsign = track.callsign or track.uid
    parts = [
        f'<contact callsign="{escape_attribute(callsign)}"/>',
        f'<track course="{format_number(round(course, 1))}" speed="{format_number(round(speed, 2))}"/>',
        f'<__fusion version="{FUSION_DETAIL_VERSION}" estimate="{format_time(track.time_ms)}"'
        f' coasting="{str(track.coasting).lower()}"'
        f' identities="{escape_attribute(" ".join(track.identities))}">',
    ]
    for name, info in sorted(track.sources.items()):
        identity = f' identity="{escape_attribute(info.identity)}"' if info.identity else ""
        parts.append(
            f'<source name="{escape_attribute(name)}" kind="{escape_attribute(info.kind)}"{identity}'
            f' last="{format_time(info.last_report_ms)}" sigma="{format_number(round(info.sigma_m, 1))}"'
            f' count="{info.count}"/>'
        )
    for adoption in track.adoptions:
        joined = escape_attribute(" ".join(adoption.joined))
        parts.append(
            f'<adopted identity="{escape_attribute(adoption.identity)}" rule="{adoption.rule}"'
            f' time="{format_time(adoption.time_ms)}" joined="{joined}"/>'
        )
    parts.append("</__fusion>")
    for identity in track.identities:
        if identity.startswith(COT_UID_PREFIX):
            uid = escape_attribute(identity.removeprefix(COT_UID_PREFIX))
            parts.append(f'<link uid="{uid}" relation="p-p" type="{kind}"/>')
    return "".join(parts)


def track_summary(track: Track) -> dict[str, Any]:
    """A JSON-able description of a track and its provenance, for the REST API."""
    lat, lon, hae = track.position()
    course, speed = track.course_speed
    return {
        "uid": track.uid,
        "domain": track.domain.value,
        "callsign": track.callsign,
        "identities": list(track.identities),
        "time": format_time(track.time_ms),
        "lat": lat,
        "lon": lon,
        "hae": hae,
        "course": course,
        "speed": speed,
        "ce": track.ce,
        "le": track.le,
        "coasting": track.coasting,
        "confirmed": track.confirmed,
        "first": format_time(track.first_ms),
        "attributes": dict(track.attributes),
        "adoptions": [
            {"identity": a.identity, "rule": a.rule, "time": format_time(a.time_ms), "joined": list(a.joined)}
            for a in track.adoptions
        ],
        "sources": [
            {
                "name": name,
                "kind": info.kind,
                "identity": info.identity,
                "last": format_time(info.last_report_ms),
                "sigma_m": info.sigma_m,
                "count": info.count,
            }
            for name, info in sorted(track.sources.items())
        ],
    }
