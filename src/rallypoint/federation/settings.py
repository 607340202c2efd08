"""A site's federation settings, checked before anything starts: the policy file and the names.

Each site name becomes a NATS subject token and a JetStream domain and stream name part
(``rpfed.<site>.to.<remote>``, ``$JS.<remote>.API``, ``RPFED_<SITE>_OUT``), so it is held to
letters, digits, ``_`` and ``-``. Federation and cluster mode do not run together yet: both
would want the router's one publishing hook, and every node of a cluster would inject what
crosses the link once more (docs/federation.md, "Not yet").
"""

import re
import tomllib
from pathlib import Path

from rallypoint.config import Settings
from rallypoint.errors import ConfigError
from rallypoint.federation.policy import Policy, parse_policy

_SITE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
"""A site name is one subject token, a JetStream domain and part of a stream name."""

SUBJECT_PREFIX = "rpfed"
STREAM_PREFIX = "RPFED_"


def outbound_subject(site: str, remote: str) -> str:
    """Where ``site`` publishes what its policy lets leave towards ``remote``."""
    return f"{SUBJECT_PREFIX}.{site}.to.{remote}"


def outbound_stream(site: str) -> str:
    """The stream of ``site``'s own JetStream domain that keeps everything leaving it."""
    return f"{STREAM_PREFIX}{site.upper()}_OUT"


def inbound_stream(site: str, remote: str) -> str:
    """The stream of ``site``'s domain that sources what ``remote`` lets leave towards it."""
    return f"{STREAM_PREFIX}{site.upper()}_FROM_{remote.upper()}"


def domain_api(remote: str) -> str:
    """The JetStream API prefix of ``remote``'s domain, reached over the leaf-node connection."""
    return f"$JS.{remote}.API"


def load_federation(settings: Settings) -> Policy:
    """The policy in :attr:`Settings.federation_file`; :class:`ConfigError` in one line if wrong."""
    if settings.cluster_url:
        raise ConfigError(
            "federation_url and cluster_url together are not supported yet: federate single nodes"
        )
    if not settings.federation_file:
        raise ConfigError("federation_url needs federation_file, the TOML file with the [federation] table")
    path = Path(settings.federation_file)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read federation_file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"federation_file {path} is not valid TOML: {exc}") from exc
    table = data.get("federation")
    if not isinstance(table, dict):
        raise ConfigError(f"federation_file {path} has no [federation] table")
    policy = parse_policy(table)
    names = [policy.site, *(remote.site for remote in policy.remotes)]
    for name in names:
        if not _SITE_NAME.match(name):
            raise ConfigError(
                f"federation site {name!r} may hold only letters, digits, '_' and '-' (1 to 32)"
            )
    if len({name.upper() for name in names}) != len(names):
        raise ConfigError("federation site names must differ from each other (ignoring case)")
    return policy
