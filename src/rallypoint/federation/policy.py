"""The federation policy: which groups and message kinds cross a link, in each direction.

Sans-I/O and transport-neutral: a policy names remote sites and, per site, an outbound rule
(which local groups and kinds leave) and an inbound rule (which kinds enter, and how remote
groups map to local ones). The NATS leaf-node link applies it today; a TAK Server federation v2
link would apply the same rules (its federates also have inbound and outbound group lists), so
``transport`` is part of each remote, not of the policy.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from rallypoint.errors import ConfigError

KINDS = frozenset({"positions", "chat", "emergencies", "missions", "markers", "drawings", "objectives"})
"""Message kinds a rule may name; anything else never crosses."""
OBJECTIVE_MARK = "<__objective "
"""The detail element of a mission objective's map item (``missions.notify``): a ``b-m-p-s-p-i``
point or a ``u-d-f`` area that is an ``objectives`` item, not a marker or a drawing."""
TRANSPORTS = frozenset({"nats-leaf"})
"""Links this version runs (``tak-v2`` is the planned next one)."""


def kind_of(event_type: str, detail_xml: str = "") -> str | None:
    """The policy kind of a CoT type (and, for objectives, its detail), or None when no rule can
    let it cross."""
    if event_type.startswith("b-a-"):
        return "emergencies"
    if event_type.startswith("b-t-f"):
        return "chat"
    if event_type.startswith("t-x-m-"):
        return "missions"
    if OBJECTIVE_MARK in detail_xml and (event_type.startswith(("b-m-p-", "u-d-"))):
        return "objectives"
    if event_type.startswith("b-m-p-"):
        return "markers"
    if event_type.startswith("u-d-") or event_type == "u-rb-a":
        return "drawings"
    if event_type.startswith("a-") or event_type == "t-x-d-d":
        return "positions"
    return None


class Outbound(NamedTuple):
    groups: frozenset[str]
    kinds: frozenset[str]


class Inbound(NamedTuple):
    groups: Mapping[str, str]
    """Remote group name -> local group name; an unmapped remote group never enters."""
    kinds: frozenset[str]


class Remote(NamedTuple):
    site: str
    transport: str
    outbound: Outbound
    inbound: Inbound

    def leaving(self, event_type: str, groups: frozenset[str], detail_xml: str = "") -> frozenset[str]:
        """The sender's groups an event may leave in (empty: it stays here)."""
        if kind_of(event_type, detail_xml) not in self.outbound.kinds:
            return frozenset()
        return groups & self.outbound.groups

    def entering(self, event_type: str, groups: frozenset[str], detail_xml: str = "") -> frozenset[str]:
        """The local groups a remote event enters (empty: dropped and counted)."""
        if kind_of(event_type, detail_xml) not in self.inbound.kinds:
            return frozenset()
        return frozenset(self.inbound.groups[g] for g in groups if g in self.inbound.groups)


class Policy(NamedTuple):
    site: str
    remotes: tuple[Remote, ...]


def parse_policy(table: Mapping[str, Any]) -> Policy:
    """A ``[federation]`` table made a :class:`Policy`; :class:`ConfigError` in one line if wrong."""
    site = table.get("site")
    if not isinstance(site, str) or not site:
        raise ConfigError('[federation] needs site = "<this site\'s name>"')
    remotes = table.get("remotes", [])
    if not isinstance(remotes, list) or not remotes:
        raise ConfigError("[federation] needs at least one [[federation.remotes]]")
    return Policy(site, tuple(_remote(entry) for entry in remotes))


def _remote(entry: Any) -> Remote:
    if not isinstance(entry, dict) or not isinstance(entry.get("site"), str):
        raise ConfigError('[[federation.remotes]] needs site = "<remote site\'s name>"')
    transport = entry.get("transport", "nats-leaf")
    if transport not in TRANSPORTS:
        raise ConfigError(f"federation remote {entry['site']}: transport {transport!r} is not supported")
    out, into = entry.get("outbound", {}), entry.get("inbound", {})
    mapping = into.get("groups", {})
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ConfigError(f"federation remote {entry['site']}: inbound.groups maps remote to local names")
    return Remote(
        entry["site"],
        transport,
        Outbound(_names(entry["site"], out.get("groups", [])), _kinds(entry["site"], out.get("kinds", []))),
        Inbound(dict(mapping), _kinds(entry["site"], into.get("kinds", []))),
    )


def _names(site: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"federation remote {site}: groups must be a list of names")
    return frozenset(value)


def _kinds(site: str, value: Any) -> frozenset[str]:
    kinds = _names(site, value)
    unknown = kinds - KINDS
    if unknown:
        raise ConfigError(f"federation remote {site}: unknown kind(s) {', '.join(sorted(unknown))}")
    return kinds
