"""GeoJSON pushed over HTTP: a Feature or FeatureCollection of Points (RFC 7946).

Each Point feature is one report. Its identity is ``properties.identity`` when the sender
uses our namespaces (``uid:Rescue-3``, ``mmsi:...``), else ``geojson:<feed>/<id>`` from the
feature's ``id`` (or ``properties.id``). Optional properties: ``callsign`` (or ``name``),
``course`` (degrees), ``speed`` (m/s), ``time`` (ms since the epoch), ``domain``
(air/sea/ground), ``sigma_m``. Coordinates are ``[lon, lat]`` or ``[lon, lat, height]``.
"""

import json
import math
from types import MappingProxyType
from typing import Any

from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.decoded import Decoded, error
from rallypoint.fusion.feeds.units import course, valid_position
from rallypoint.fusion.report import Domain, Report

MAX_BODY_BYTES = 4 * 1024 * 1024
"""One push; 10 000 point features are about 2 MB."""
MAX_FEATURES = 10_000
"""Features per push; more is a bulk import, not a live feed."""
MAX_ID_CHARS = 128
MAX_FUTURE_MS = 60_000
"""A ``time`` more than a minute ahead of the server's clock is a sender's clock error."""
IDENTITY_NAMESPACES = ("uid:", "icao:", "mmsi:", "aprs:")


class GeoJsonDecoder:
    """A GeoJSON document in, one report per valid Point feature out."""

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed

    def decode(self, body: bytes, received_ms: int) -> Decoded:
        """The whole pushed document."""
        if len(body) > MAX_BODY_BYTES:
            return error("too_large")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return error("bad_json")
        return self.decode_document(document, received_ms)

    def decode_document(self, document: Any, received_ms: int) -> Decoded:
        """An already-parsed document."""
        if not isinstance(document, dict):
            return error("not_geojson")
        if document.get("type") == "Feature":
            features: Any = [document]
        elif document.get("type") == "FeatureCollection":
            features = document.get("features")
        else:
            return error("not_geojson")
        if not isinstance(features, list):
            return error("not_geojson")
        if len(features) > MAX_FEATURES:
            return error("too_many_features")
        reports: list[Report] = []
        errors: list[str] = []
        for feature in features:
            result = self._feature(feature, received_ms)
            if isinstance(result, Report):
                reports.append(result)
            else:
                errors.append(result)
        return Decoded(tuple(reports), tuple(errors))

    def _feature(self, feature: Any, received_ms: int) -> Report | str:
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            return "bad_feature"
        geometry, properties = feature.get("geometry"), feature.get("properties") or {}
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            return "not_a_point"
        if not isinstance(properties, dict):
            return "bad_feature"
        position = _coordinates(geometry.get("coordinates"))
        if position is None:
            return "bad_position"
        identity = self._identity(feature, properties)
        if identity is None:
            return "no_id"
        lon, lat, height = position
        time_ms = _number(properties.get("time"))
        if time_ms is None or time_ms > received_ms + MAX_FUTURE_MS:
            time_ms = received_ms
        heading, speed = _number(properties.get("course")), _number(properties.get("speed"))
        sigma = _number(properties.get("sigma_m"))
        callsign = properties.get("callsign", properties.get("name"))
        return Report(
            source=self.feed.name,
            kind="geojson",
            identity=identity,
            time_ms=int(time_ms),
            received_ms=received_ms,
            lat=lat,
            lon=lon,
            hae=height,
            course=course(heading) if heading is not None else None,
            speed=speed if speed is not None and speed >= 0 else None,
            sigma_m=sigma if sigma is not None and sigma > 0 else self.feed.sigma_m,
            domain=_domain(properties.get("domain")),
            callsign=str(callsign)[:MAX_ID_CHARS] if isinstance(callsign, str) and callsign else None,
            attributes=MappingProxyType({}),
        )

    def _identity(self, feature: dict[str, Any], properties: dict[str, Any]) -> str | None:
        explicit = properties.get("identity")
        if isinstance(explicit, str) and explicit.startswith(IDENTITY_NAMESPACES):
            return explicit[:MAX_ID_CHARS]
        raw = feature.get("id", properties.get("id"))
        if isinstance(raw, bool) or not isinstance(raw, str | int) or raw == "":
            return None
        return f"geojson:{self.feed.name}/{str(raw)[:MAX_ID_CHARS]}"


def _coordinates(value: Any) -> tuple[float, float, float | None] | None:
    if not isinstance(value, list) or len(value) not in (2, 3):
        return None
    numbers = [_number(v) for v in value]
    if any(n is None for n in numbers):
        return None
    lon, lat = float(value[0]), float(value[1])
    if not valid_position(lat, lon):
        return None
    return lon, lat, float(value[2]) if len(value) == 3 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _domain(value: Any) -> Domain:
    try:
        return Domain(value)
    except ValueError:
        return Domain.GROUND
