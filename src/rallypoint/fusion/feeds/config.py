"""Which feeds run and how the fusion service treats them, read from a TOML file.

The server's :class:`~rallypoint.config.Settings` are a flat table; feeds are a list of
tables, so they live in their own file (named by the ``feeds_file`` setting, and it may be
the settings file itself: the settings loader reads only its ``[rallypoint]`` table)::

    [[feeds]]
    name = "adsb-north"
    kind = "adsb_json"
    url = "http://127.0.0.1:8080/data/aircraft.json"
    interval_s = 1.0
    groups = ["Cyan"]
    affiliation = "n"
    sigma_m = 30.0

    [fusion.aliases]
    "mmsi:227006760" = "uid:Rescue-3"

The engine's tuning (per-domain process noise, deletion times, gates) is read from the same
``[fusion]`` table by :mod:`rallypoint.fusion.feeds.tuning_table`.
"""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rallypoint.errors import ConfigError
from rallypoint.fusion.feeds.tuning_table import parse_tuning
from rallypoint.fusion.output import AFFILIATIONS
from rallypoint.fusion.tuning import FusionConfig

KINDS = {
    "adsb_json": "readsb/dump1090 aircraft.json polled over HTTP (url, interval_s)",
    "sbs": "SBS-1/BaseStation text over TCP, port 30003 (host, port)",
    "avr": "raw Mode S hex lines (*8D...;) over TCP, port 30002 (host, port, reference)",
    "ais_udp": "NMEA 0183 !AIVDM/!AIVDO datagrams received on (host, port)",
    "ais_tcp": "NMEA 0183 !AIVDM/!AIVDO lines read from a TCP server (host, port)",
    "aprs_is": "APRS-IS text lines from a TCP server (host, port, login, aprs_filter)",
    "cot_udp": "CoT XML datagrams from a gateway received on (host, port)",
    "cot_tcp": "CoT XML stream read from a gateway's TCP server (host, port)",
    "geojson": "GeoJSON pushed to POST /api/feeds/<name>/geojson",
}
"""Every feed kind, with what it reads; the key is the ``kind`` value in the file."""

DEFAULT_SIGMA_M = {"adsb_json": 30.0, "sbs": 30.0, "avr": 30.0, "ais_udp": 10.0, "ais_tcp": 10.0}
"""Typical 1-sigma position error when the file gives none (GNSS-based sources)."""
FALLBACK_SIGMA_M = 20.0
DEFAULT_MIN_EMIT_INTERVAL_S = 0.1
"""At most ten updates a second per fused track: a report waits at most 100 ms for its track's
next send (the issue's display-latency budget); the sources rarely update a track that often
(issue scenario: 2.4 events per track and second)."""


@dataclass(frozen=True)
class FeedConfig:
    """One ``[[feeds]]`` table."""

    name: str
    kind: str
    groups: frozenset[str] = frozenset({"__ANON__"})
    """Where the fused tracks this feed contributes to are routed."""
    affiliation: str = "u"
    sigma_m: float = FALLBACK_SIGMA_M
    url: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    interval_s: float = 1.0
    """Polling period of ``adsb_json``."""
    login: str = "N0CALL"
    """APRS-IS user (receive-only: the pass code sent is -1)."""
    aprs_filter: str = ""
    """APRS-IS server-side filter, e.g. ``r/48.1/11.6/100``."""
    reference: tuple[float, float] | None = None
    """Receiver (lat, lon) for single-message Mode S position decoding (``avr``)."""
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    backoff_probe_s: float = 1.0
    """While backing off, probe the source this often and restart as soon as it answers."""


@dataclass(frozen=True)
class FusionFileConfig:
    """Everything the feeds file says: the feeds, and fusion-wide options."""

    feeds: tuple[FeedConfig, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Cross-identity map: ``{"mmsi:227006760": "uid:Rescue-3"}``."""
    stale_s: float = 60.0
    """Stale time of the fused CoT events."""
    min_emit_interval_s: float = DEFAULT_MIN_EMIT_INTERVAL_S
    """Per-track output rate limit (a significant change still goes out at once)."""
    tuning: FusionConfig = field(default_factory=FusionConfig)
    """Motion models per domain, gates and deletion times from ``[fusion]`` (aliases apart)."""

    def engine_config(self) -> FusionConfig:
        """The engine's configuration: the file's tuning with its aliases."""
        return replace(self.tuning, aliases=MappingProxyType(dict(self.aliases)))

    def feed(self, name: str) -> FeedConfig:
        """The feed called ``name`` (ConfigError if the file has none)."""
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise ConfigError(f"no feed named {name!r} (have: {', '.join(f.name for f in self.feeds) or 'none'})")


def load_fusion_file(path: Path) -> FusionFileConfig:
    """Read and check the feeds file."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read feeds file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"feeds file {path} is not valid TOML: {exc}") from exc
    return parse_fusion_config(data)


def parse_fusion_config(data: Mapping[str, Any]) -> FusionFileConfig:
    """Check the ``[[feeds]]`` list and the ``[fusion]`` table of an already-parsed file."""
    raw_feeds = data.get("feeds", [])
    if not isinstance(raw_feeds, list):
        raise ConfigError("feeds must be an array of tables ([[feeds]])")
    feeds = tuple(parse_feed(raw) for raw in raw_feeds)
    names = [feed.name for feed in feeds]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"feed names must be unique: {', '.join(duplicates)}")
    fusion = _table(data.get("fusion", {}), "fusion")
    aliases = _table(fusion.get("aliases", {}), "fusion.aliases")
    try:
        return FusionFileConfig(
            feeds=feeds,
            aliases={str(key): str(value) for key, value in aliases.items()},
            stale_s=float(fusion.get("stale_s", 60.0)),
            min_emit_interval_s=float(fusion.get("min_emit_interval_s", DEFAULT_MIN_EMIT_INTERVAL_S)),
            tuning=parse_tuning(fusion),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[fusion]: {exc}") from exc


def parse_feed(raw: Any) -> FeedConfig:
    """One ``[[feeds]]`` table to a :class:`FeedConfig`, with every value checked."""
    table = _table(raw, "[[feeds]]")
    name, kind = str(table.get("name", "")), str(table.get("kind", ""))
    if not name or any(c in name for c in '/{},="\\ '):
        raise ConfigError(f"feed name {name!r} must be non-empty, without spaces, quotes, / {{ }} , =")
    if kind not in KINDS:
        raise ConfigError(f"feed {name}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    known = {f.name for f in FeedConfig.__dataclass_fields__.values()} | {"groups", "reference"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"feed {name}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        feed = FeedConfig(
            name=name,
            kind=kind,
            groups=frozenset(str(g) for g in table.get("groups", ["__ANON__"])),
            affiliation=str(table.get("affiliation", "u")),
            sigma_m=float(table.get("sigma_m", DEFAULT_SIGMA_M.get(kind, FALLBACK_SIGMA_M))),
            url=str(table.get("url", "")),
            host=str(table.get("host", "127.0.0.1")),
            port=int(table.get("port", 0)),
            interval_s=float(table.get("interval_s", 1.0)),
            login=str(table.get("login", "N0CALL")),
            aprs_filter=str(table.get("aprs_filter", "")),
            reference=_reference(table.get("reference")),
            backoff_initial_s=float(table.get("backoff_initial_s", 1.0)),
            backoff_max_s=float(table.get("backoff_max_s", 60.0)),
            backoff_probe_s=float(table.get("backoff_probe_s", 1.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"feed {name}: {exc}") from exc
    _check(feed)
    return feed


def _check(feed: FeedConfig) -> None:
    problems = []
    if feed.affiliation not in AFFILIATIONS:
        problems.append(f"affiliation {feed.affiliation!r} is not one of {''.join(sorted(AFFILIATIONS))}")
    if not feed.groups:
        problems.append("groups must name at least one group")
    if min(feed.sigma_m, feed.interval_s, feed.backoff_initial_s, feed.backoff_probe_s) <= 0:
        problems.append("sigma_m, interval_s, backoff_initial_s and backoff_probe_s must be positive")
    if feed.backoff_max_s < feed.backoff_initial_s:
        problems.append("backoff_max_s must be at least backoff_initial_s")
    if feed.kind == "adsb_json" and not feed.url.startswith(("http://", "https://")):
        problems.append("adsb_json needs an http(s) url")
    if feed.kind not in {"adsb_json", "geojson"} and not 0 < feed.port < 65536:
        problems.append(f"{feed.kind} needs a port in 1..65535")
    if problems:
        raise ConfigError(f"feed {feed.name}: {'; '.join(problems)}")


def _reference(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("reference must be [lat, lon]")
    return float(value[0]), float(value[1])


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    return value
