"""A node's cluster settings, checked before anything starts (no NATS client needed for that)."""

import os
import re
import socket

from rallypoint.config import Settings
from rallypoint.errors import ConfigError

_SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""A node id is one NATS subject token (``rallypoint.events.<node>``)."""


def node_name(settings: Settings) -> str:
    """This node's id: the setting, or the host name and process id made a subject token."""
    if settings.cluster_node_id:
        return settings.cluster_node_id
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{socket.gethostname()}-{os.getpid()}")[:64]


def check_cluster_settings(settings: Settings) -> None:
    """Refuse, with one line, a cluster the nodes could not share state in."""
    if not settings.store_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("cluster_url needs a PostgreSQL store_url shared by every node (postgresql://...)")
    if not _SUBJECT_TOKEN.match(node_name(settings)):
        raise ConfigError("cluster_node_id may hold only letters, digits, '_' and '-' (at most 64)")
