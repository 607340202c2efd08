"""Mission roles and the permissions each grants (TAK's MissionRole / MissionPermission).

The mapping follows what TAK clients expect from a server: an owner may do everything, a
subscriber may read and write content, a read-only subscriber may only read.
"""

from typing import Any

from rallypoint.errors import InvalidMissionRequest

OWNER = "MISSION_OWNER"
SUBSCRIBER = "MISSION_SUBSCRIBER"
READONLY = "MISSION_READONLY_SUBSCRIBER"

READ = "MISSION_READ"
WRITE = "MISSION_WRITE"
DELETE = "MISSION_DELETE"
SET_ROLE = "MISSION_SET_ROLE"
SET_PASSWORD = "MISSION_SET_PASSWORD"  # noqa: S105 (a permission name, not a password)
UPDATE_GROUPS = "MISSION_UPDATE_GROUPS"
MANAGE_FEEDS = "MISSION_MANAGE_FEEDS"
MANAGE_LAYERS = "MISSION_MANAGE_LAYERS"

PERMISSIONS: dict[str, tuple[str, ...]] = {
    OWNER: (
        READ,
        WRITE,
        DELETE,
        SET_ROLE,
        SET_PASSWORD,
        UPDATE_GROUPS,
        MANAGE_FEEDS,
        MANAGE_LAYERS,
    ),
    SUBSCRIBER: (READ, WRITE),
    READONLY: (READ,),
}
"""Role -> permissions, in the order TAK lists them."""


def check_role(name: str) -> str:
    """``name`` if it is a TAK mission role, else :class:`InvalidMissionRequest`."""
    if name not in PERMISSIONS:
        raise InvalidMissionRequest(f"unknown role {name!r} (one of {', '.join(PERMISSIONS)})")
    return name


def allows(role: str, permission: str) -> bool:
    """True when ``role`` grants ``permission``."""
    return permission in PERMISSIONS.get(role, ())


def role_json(role: str) -> dict[str, Any]:
    """A MissionRole as TAK's JSON writes it."""
    return {"type": role, "permissions": list(PERMISSIONS[role])}


def role_xml(role: str) -> str:
    """A ``<role>`` element for invitation and role-change notifications."""
    permissions = "".join(f'<permission type="{name}"/>' for name in PERMISSIONS[role])
    return f'<role type="{role}"><permissions>{permissions}</permissions></role>'
