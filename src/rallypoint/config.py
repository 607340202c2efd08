"""One typed settings object, read from a TOML file and ``RALLYPOINT_*`` environment variables.

Defaults are safe for a first run: every listener binds to 127.0.0.1, and data lives in
``./rallypoint-data``. Precedence: defaults < file < environment < command line.
"""

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from rallypoint.errors import ConfigError
from rallypoint.hostnames import local_names

ENV_PREFIX = "RALLYPOINT_"


@dataclass(frozen=True)
class Settings:
    """Everything ``rallypoint serve`` can be told."""

    data_dir: Path = Path("rallypoint-data")
    host: str = "127.0.0.1"
    """Address every listener binds to; 0.0.0.0 to serve a LAN."""
    tcp_port: int = 8087
    """Plain CoT streaming (XML, negotiable to TAK protocol v1); 0 picks a free port."""
    udp_port: int | None = 8087
    """CoT input, one message per datagram; None disables it."""
    tls_port: int | None = 8089
    """CoT streaming over mutual TLS (client certificate from our CA required); None disables it."""
    enrollment_port: int | None = 8446
    """HTTPS certificate enrollment (server-auth TLS + HTTP basic auth); None disables it."""
    api_tls_port: int | None = 8443
    """Marti REST API over HTTPS with client certificates (as on ``tls_port``); None disables it."""
    api_plain_port: int | None = 8080
    """Marti REST API over plain HTTP beside the plain streaming port, every caller anonymous
    (``__ANON__``): ATAK fetches data packages from here on a plain connection; None disables it."""
    hostnames: str = ""
    """Comma-separated names and addresses clients use to reach the server (server certificate SANs);
    empty: this machine's own addresses and host name, then ``localhost`` and ``127.0.0.1``."""
    certificate_validity_days: int = 365
    anti_spoofing_plain: bool = False
    """Refuse uid/callsign reuse across connections on the anonymous plain port too."""
    anti_spoofing_tls: bool = True
    """Refuse an identity's events that reuse a uid or callsign another identity introduced."""
    enrollment_max_failures: int = 5
    """Failed logins per user and per address per minute before enrollment answers 429."""
    multicast_enabled: bool = False
    multicast_group: str = "239.2.3.1"
    multicast_port: int = 6969
    multicast_interface: str = "127.0.0.1"
    server_id: str = "rallypoint"
    max_event_bytes: int = 64 * 1024
    """Largest CoT XML event or protobuf frame accepted (real events stay under 8 KiB)."""
    max_xml_depth: int = 32
    outbox_max_messages: int = 10_000
    """Per-client queue of messages not yet written; position reports are replaced first."""
    outbox_max_bytes: int = 8 * 1024 * 1024
    stall_timeout_s: float = 30.0
    """A client that accepts no bytes for this long is disconnected."""
    partial_message_timeout_s: float = 30.0
    """A message left unfinished this long (a slowloris client) closes the connection."""
    idle_timeout_s: float = 0.0
    """Close connections silent this long; 0 keeps them (TAK clients ping every 15 s)."""
    tcp_keepalive_idle_s: int = 10
    """Seconds a streaming connection may be silent before the kernel starts keepalive probes."""
    tcp_keepalive_interval_s: int = 5
    tcp_keepalive_probes: int = 3
    """Unanswered probes after which the kernel ends the connection (a device out of coverage:
    found within idle + interval x probes = 25 s by default, and its mail kept again)."""
    tcp_user_timeout_s: float = 30.0
    """Written data unacknowledged this long ends the connection (``TCP_USER_TIMEOUT``); 0: the kernel's."""
    server_ping_interval_s: float = 30.0
    """A streaming connection silent both ways this long is sent a keepalive (a ``takPong``,
    which TAK clients count as traffic and discard): on a half-open link its bytes stay
    unacknowledged and ``tcp_user_timeout_s`` ends the connection, even where keepalive probes
    are lost or answered by a middlebox; 0 sends none. Longer than ATAK's own 15 s ping, so a
    live ATAK client never needs one; each costs a write (about 1 % of a core per 10 000
    silent connections at 15 s)."""
    max_connections: int = 20_000
    max_bad_messages: int = 10
    """Invalid events in a row tolerated before a client is disconnected."""
    isolate_teams: bool = False
    """Opt-in: broadcasts reach only clients of the sender's team colour."""
    upload_max_bytes: int = 100 * 1024 * 1024
    """Largest file accepted by the Marti upload endpoints; beyond it the answer is 413."""
    package_max_entries: int = 1000
    """Entries one data package may hold (ATAK packages hold tens)."""
    package_max_uncompressed_bytes: int = 1024 * 1024 * 1024
    """Total size a data package may expand to on the devices that extract it."""
    http_max_connections_per_address: int = 64
    """Connections one client address may hold open on each HTTP port; more are closed at once."""
    http_request_timeout_s: float = 10.0
    """An HTTP connection that has not sent a complete request head this long after connecting
    (or after its last answer) is closed: idle and slowloris connections hold no capacity."""
    mission_password_max_failures: int = 5
    """Wrong mission passwords per minute, per mission and caller and per address, before refusal."""
    log_level: str = "INFO"
    store_url: str = ""
    """Where routed events and the package index are kept: ``sqlite:///abs/path.db`` or
    ``postgresql://user@host:port/db``; empty = ``rallypoint.sqlite3`` in :attr:`data_dir`;
    ``off`` = keep nothing (no history, no picture after a restart, no store-and-forward)."""
    retention_days: int = 30
    """Stored events older than this are purged (hourly)."""
    store_queue_max: int = 100_000
    """Events waiting for the store's writer; past it new ones are not stored (counted as store_dropped)."""
    mail_max_per_recipient: int = 100_000
    """Undelivered messages kept for one device at most: past it new mail for that device is
    refused (``mail_lost{reason=recipient_limit}``) and each chat's sender is answered
    ``b-t-f-s``, so one device left offline, or a flood aimed at it, cannot fill the disk."""
    mail_max_bytes_per_recipient: int = 64 * 1024 * 1024
    """Bytes of undelivered mail kept for one device at most (``mail_lost{reason=recipient_bytes}``):
    the count limit's worth of typical chats, so a few large events cannot pass its footprint."""
    mail_max_age_s: float = 7 * 86_400.0
    """Mail kept for an offline device expires unread after this long (default a week): it is
    never handed over later, it is removed within a minute, counted as
    ``mail_lost{reason=expired}``, and a chat's sender still connected is answered ``b-t-f-s``."""

    # Missions, objectives and checklists (issue 5)
    missions_enabled: bool = True
    """Serve the Data Sync mission API, objectives and checklists (needs the store)."""
    mission_max_body_bytes: int = 256 * 1024
    """Largest JSON body a mission, objective or checklist request may have."""
    objective_resend_s: float = 60.0
    """An assignment not yet acknowledged is sent again to its connected assignees this often."""
    objective_ack_deadline_s: float = 600.0
    """An assignment still unacknowledged this long after it was made is escalated to the owners."""

    # Web command post (issue 6)
    web_port: int | None = 8000
    """The web command post (page, JSON API, live WebSocket); 0 picks a free port; None disables it."""
    web_tls: bool = False
    """Serve the web port over HTTPS with the server certificate; a browser certificate from our CA
    logs its user in without a password."""
    web_tile_url: str = ""
    """Online basemap tile URL template (``https://…/{z}/{x}/{y}.png``); empty: none."""
    web_tile_attribution: str = ""
    web_mbtiles: str = ""
    """An MBTiles file served as ``/api/tiles/{z}/{x}/{y}`` for an offline basemap; empty: none."""
    web_assets_dir: str = ""
    """Directory of a built web UI to serve instead of the one in the package (development)."""
    web_session_idle_s: float = 3600.0
    """A web session unused this long ends (an open page keeps its session alive)."""
    web_live_queue_max: int = 2000
    """Messages waiting for one browser socket; a page that falls further behind is disconnected."""
    rollcall_no_position_minutes: int = 10
    """A roll call's member without a position this long raises the page's alarm (1-1440; a roll
    call may name its own)."""

    # Device profiles (issue 14)
    device_profile_dir: str = ""
    """Folder of files pushed to devices as profile data packages: ``connection/`` on every
    connect, ``tool/<name>/`` on request, ``groups/<group>/…`` likewise for that group only
    (map sources, ``.pref`` preferences, …); empty: no profiles (TAK clients get 204)."""

    # TAK's locate API (issue 14)
    locate_enabled: bool = False
    """Serve ``POST /locate/api``: anyone who can reach an API port, with no TAK client, posts a
    position and a name, and it becomes a marker in :attr:`locate_group`. Off by default, as in
    TAK Server (its ``locate`` element is absent unless configured)."""
    locate_group: str = "__ANON__"
    """The group a located marker is routed to (TAK's ``locate/@group``)."""
    locate_cot_type: str = "a-f-G"
    """The CoT type of a located marker (TAK's ``locate/@cotType``)."""
    locate_max_per_minute: int = 10
    """Positions one client address may post per minute before the answer is 429."""

    # Feeds and track fusion (issue 7)
    feeds_file: str = ""
    """TOML file with the ``[[feeds]]`` to run and the ``[fusion]`` options (aliases); empty: no
    fusion service. It may be the settings file itself (settings then sit under ``[rallypoint]``)."""

    # Cluster mode (issue 17)
    cluster_url: str = ""
    """NATS server(s) with JetStream this node shares routed events through
    (``nats://host:4222``, comma-separated for several); empty: the embedded default, one process.
    Needs a PostgreSQL :attr:`store_url` shared by every node."""
    cluster_name: str = "main"
    """Nodes with the same name on one NATS form one cluster (its JetStream stream and subjects)."""
    cluster_node_id: str = ""
    """This node's name in the cluster, unique per node; empty: the host name and process id."""

    # Site federation (issue 17)
    federation_url: str = ""
    """This site's own NATS server(s) with JetStream, whose JetStream domain is the site's name and
    which holds the leaf-node connection to the other sites (``nats://host:4222``); empty: no
    federation. Its policy is read from :attr:`federation_file`."""
    federation_file: str = ""
    """TOML file with the ``[federation]`` table (this site, its remotes and what crosses to and
    from each, see docs/federation.md); it may be the settings file itself (settings then sit
    under ``[rallypoint]``)."""

    @property
    def effective_store_url(self) -> str:
        """:attr:`store_url`, or the SQLite file in the data directory."""
        return self.store_url or f"sqlite://{(self.data_dir / 'rallypoint.sqlite3').resolve()}"

    @property
    def hostname_list(self) -> list[str]:
        """:attr:`hostnames` split into names, blanks dropped; the machine's own names if it is empty."""
        configured = [name.strip() for name in self.hostnames.split(",") if name.strip()]
        return configured or list(local_names())

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Settings":
        """A copy with the given fields replaced (values already typed)."""
        known = {field.name for field in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **overrides)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file (if given or ``./rallypoint.toml`` exists), then the environment."""
    settings = Settings()
    file = path if path is not None else Path("rallypoint.toml")
    if path is not None or file.exists():
        settings = settings.with_overrides(_coerce_all(settings, _read_toml(file)))
    env = os.environ if environ is None else environ
    from_env = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in _field_types()
    }
    return settings.with_overrides(_coerce_all(settings, from_env))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from exc
    section = data.get("rallypoint", data)
    if not isinstance(section, dict):
        raise ConfigError(f"settings file {path}: [rallypoint] must be a table")
    return section


def _field_types() -> dict[str, str]:
    """Each setting's declared type as text: ``int``, ``int | None``, ``Path`` ..."""
    return {
        name: hint.__name__ if isinstance(hint, type) else str(hint)
        for name, hint in typing.get_type_hints(Settings).items()
    }


def _coerce_all(settings: Settings, raw: Mapping[str, Any]) -> dict[str, Any]:
    types = _field_types()
    unknown = set(raw) - set(types)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return {name: coerce(name, types[name], value) for name, value in raw.items()}


def coerce(name: str, type_name: str, value: Any) -> Any:
    """Convert a file or environment value to the type the setting declares."""
    try:
        if type_name.endswith("Path"):
            return Path(value)
        if type_name.startswith("int"):
            if isinstance(value, str) and value.lower() in {"", "none", "off"} and "None" in type_name:
                return None
            return int(value)
        if type_name == "float":
            return float(value)
        if type_name == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(value)
            return text in {"1", "true", "yes", "on"}
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}={value!r} is not a valid {type_name}") from exc
