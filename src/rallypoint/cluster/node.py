"""A node's cluster settings, checked before anything starts (no NATS client needed for that)."""

import os
import re
import socket

from rallypoint.config import Settings
from rallypoint.errors import ConfigError

_SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""A cluster name and a node id are each one NATS subject token (``rallypoint.<cluster>.<node>``)."""


def node_name(settings: Settings) -> str:
    """This node's id: the setting, or the host name and process id made a subject token."""
    if settings.cluster_node_id:
        return settings.cluster_node_id
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{socket.gethostname()}-{os.getpid()}")[:64]


def check_cluster_settings(settings: Settings) -> None:
    """Refuse, with one line, a cluster the nodes could not share state in."""
    if not settings.store_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("cluster_url needs a PostgreSQL store_url shared by every node (postgresql://...)")
    for setting, value in (("cluster_name", settings.cluster_name), ("cluster_node_id", node_name(settings))):
        if not _SUBJECT_TOKEN.match(value):
            raise ConfigError(f"{setting} may hold only letters, digits, '_' and '-' (1 to 64)")
