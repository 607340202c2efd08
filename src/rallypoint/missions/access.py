"""Who may see and change a mission: groups first, then token, role, password and invitation.

A mission is visible only to callers sharing one of its groups; anything else answers
"not found" so its existence is not revealed (deny by default). A visible mission then
needs a role granting the permission asked for: the caller's explicit role (creator,
subscriber, role set by an owner) or, for a newcomer, the mission's default role, which a
password-protected mission grants only with the right password and an invite-only one only
to invitees. A subscription token (``MissionAuthorization: Bearer …``) stands for its client uid.
"""

import asyncio
import logging
from typing import NamedTuple

from rallypoint.errors import MissionForbidden, MissionNotFound, WrongMissionPassword
from rallypoint.missions.book import MissionBook
from rallypoint.missions.credentials import token_digest, verify_password
from rallypoint.missions.model import Mission
from rallypoint.missions.roles import allows

log = logging.getLogger(__name__)


class Actor(NamedTuple):
    """Who asks, as the API layer saw it."""

    uid: str
    """The client uid (``clientUid``/``creatorUid``/``uid`` parameter), else the user name."""
    groups: frozenset[str]
    username: str | None = None
    token: str | None = None
    password: str | None = None


def visible(mission: Mission, actor: Actor) -> bool:
    return not mission.groups.isdisjoint(actor.groups)


def find(book: MissionBook, actor: Actor, *, name: str | None = None, guid: str | None = None) -> Mission:
    """The mission by name or guid, if the actor's groups may see it."""
    mission = book.missions.get(guid) if guid is not None else book.by_name(name or "")
    if mission is None or not visible(mission, actor):
        raise MissionNotFound(f"no mission {guid or name!r}")
    return mission


def token_uid(book: MissionBook, mission: Mission, token: str | None) -> str | None:
    """The client uid a token was issued to for this mission, if it is one."""
    if not token:
        return None
    owner = book.tokens.get(token_digest(token))
    return owner[1] if owner is not None and owner[0] == mission.guid else None


def invitation_role(mission: Mission, actor: Actor) -> str | None:
    """The role of the latest invitation naming the actor (uid, callsign, user or group), if any."""
    names = {actor.uid, actor.username}
    for invitation in reversed(mission.invitations):
        if invitation.invitee in names or (invitation.type == "group" and invitation.invitee in actor.groups):
            return invitation.role
    return None


def invited(mission: Mission, actor: Actor) -> bool:
    return invitation_role(mission, actor) is not None


def is_member(mission: Mission, uid: str) -> bool:
    """Known to the mission already: creator, explicit role or subscription."""
    return uid == mission.creator_uid or uid in mission.roles or uid in mission.subscriptions


def claimed_by(mission: Mission, uid: str) -> str | None:
    """The identity a client uid of this mission belongs to ("" anonymous), or None if unknown.

    The creator's uid belongs to the identity that created the mission, a subscriber's uid to
    the identity that subscribed it: a uid is a name anyone can write, an identity is not."""
    if uid == mission.creator_uid and mission.creator_user is not None:
        return mission.creator_user
    subscription = mission.subscriptions.get(uid)
    return None if subscription is None else subscription.username or ""


def check_claim(mission: Mission, actor: Actor) -> None:
    """Refuse an actor naming a client uid that belongs to another identity (403, logged)."""
    owner = claimed_by(mission, actor.uid)
    if owner is not None and owner != (actor.username or ""):
        log.warning(
            "mission %r: %s named client uid %s, which belongs to another identity",
            mission.name,
            actor.username or "an anonymous caller",
            actor.uid,
        )
        raise MissionForbidden(f"client uid {actor.uid} belongs to another identity")


async def authorize(book: MissionBook, mission: Mission, actor: Actor, permission: str) -> str:
    """The uid the actor acts as, if it may do ``permission`` on ``mission`` (else 403)."""
    uid = token_uid(book, mission, actor.token)
    if uid is None:
        uid = actor.uid
        if is_member(mission, uid):
            check_claim(mission, actor)
        else:
            await admit_newcomer(mission, actor)
    role = mission.role_of(uid)
    if not allows(role, permission):
        raise MissionForbidden(f"{uid} is {role} on {mission.name!r}: {permission} not granted")
    return uid


async def admit_newcomer(mission: Mission, actor: Actor) -> None:
    """Password and invitation checks for a caller the mission does not know yet."""
    if mission.invite_only and not invited(mission, actor):
        raise MissionForbidden(f"mission {mission.name!r} is by invitation only")
    if mission.password_hash is not None:
        if not actor.password:
            raise MissionForbidden(f"mission {mission.name!r} needs a password")
        if not await asyncio.to_thread(verify_password, actor.password, mission.password_hash):
            raise WrongMissionPassword(f"wrong password for mission {mission.name!r}")
