"""The server's components (missions, fusion feeds, the web live feed) and the host they share.

:func:`build_parts` decides from the settings which components run, and gives each one as a
:class:`Part`: the component with the HTTP routes it brings and the hook where others follow
its changes. The features live below ``http`` and cannot build their own routes, so the part is
made here, where both are known, and nothing downstream has to ask what type a component is.
The server starts the components before its listeners open, its timer ticks each when it says
it is next due, and it stops them before the store closes. Their routes join the Marti API's
and the command post's; routes for the incident's staff only join the command post's
(:func:`part_routes`).
"""

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.routing import BaseRoute

from rallypoint.cot.event import Event
from rallypoint.errors import ConfigError
from rallypoint.federation.policy import Policy
from rallypoint.fusion.feeds.config import load_fusion_file
from rallypoint.fusion.service import FusionService
from rallypoint.http.command_post.missions import rest_routes
from rallypoint.http.command_post.rollcall import rollcall_routes
from rallypoint.http.common.deps import Caller
from rallypoint.http.marti.excheck import excheck_routes
from rallypoint.http.marti.fusion import fusion_routes
from rallypoint.http.marti.missions import mission_routes
from rallypoint.missions.rollcall_service import RollCallService
from rallypoint.missions.service import Listener, MissionService
from rallypoint.router.host import Component, Host
from rallypoint.server.api_wiring import SERVER_TRANSPORT, route_as
from rallypoint.transport.context import ServerContext

log = logging.getLogger(__name__)


def build_host(context: ServerContext) -> Host:
    """The host every component of this server gets."""

    def inject(event: Event, groups: frozenset[str], identity: str | None) -> int:
        transport = "https" if identity else SERVER_TRANSPORT
        return route_as(context, Caller(identity, groups, transport), event, None, context.clock.wall_ms())

    return Host(
        router=context.router,
        counters=context.counters,
        settings=context.settings,
        now_ms=context.clock.wall_ms,
        store=lambda: context.store,
        inject=inject,
        send_to=context.mailbox.send_to,
        notices=context.notices,
    )


@dataclass(frozen=True)
class Part:
    """A component as the server mounts it."""

    component: Component
    routes: Sequence[BaseRoute] = ()
    """HTTP routes it adds to the Marti API and the command post."""
    change_listeners: list[Listener] | None = None
    """Where a follower of its changes registers (the web live feed), if it has changes to tell."""
    command_post_routes: Sequence[BaseRoute] = ()
    """HTTP routes for the command post only: commands for an incident's staff (a roll call),
    which a TAK client has no call for and an anonymous caller on the plain port must not get."""


def federation_link(context: ServerContext, policy: Policy) -> Component:
    """This site's federation link; imported only when federating, so NATS stays an optional extra."""
    try:
        from rallypoint.federation.link import FederationLink
    except ImportError as exc:
        raise ConfigError(f"federation needs nats-py: pip install 'rallypoint[cluster]' ({exc})") from exc

    async def settle() -> None:
        await context.mailbox.drain()
        if context.store is not None:
            await context.store.flush()

    link = FederationLink(
        context.router,
        policy,
        urls=context.settings.federation_url,
        limits=context.xml_limits,
        now_ms=context.clock.wall_ms,
        store=lambda: context.store,
        settle=settle,
        deliver_to=functools.partial(context.mailbox.send_to, relayed=True),
    )
    context.mailbox.relay = link.send_elsewhere  # a device at another site is sent its mail there
    return link


def build_parts(context: ServerContext, host: Host, federation: Policy | None = None) -> list[Part]:
    """The components the settings ask for, with their routes, in start order (the federation
    link first, so that it is stopped last, once nothing routes any more)."""
    parts: list[Part] = []
    if federation is not None:
        parts.append(Part(federation_link(context, federation)))
    feeds = load_fusion_file(Path(context.settings.feeds_file)) if context.settings.feeds_file else None
    if context.settings.missions_enabled:
        missions = MissionService(host)
        data_feeds = {feed.name: feed.groups for feed in feeds.feeds} if feeds is not None else {}
        routes = [
            *mission_routes(missions, context.audit, data_feeds),
            *rest_routes(missions, context.audit),
            *excheck_routes(missions),
        ]
        parts.append(Part(missions, routes, missions.listeners))
        rollcalls = RollCallService(host)  # personnel accountability, journaled like missions
        parts.append(
            Part(
                rollcalls,
                command_post_routes=rollcall_routes(rollcalls, context.audit),
                change_listeners=rollcalls.listeners,
            )
        )
    if feeds is not None:
        fusion = FusionService(host, feeds)
        parts.append(Part(fusion, fusion_routes(fusion)))
    return parts


def part_routes(parts: Sequence[Part], *, command_post: bool = False) -> list[BaseRoute]:
    """The HTTP routes of every part, in start order, with the command post's own if asked."""
    return [
        route
        for part in parts
        for route in (*part.routes, *(part.command_post_routes if command_post else ()))
    ]


async def stop_components(components: Sequence[Component]) -> None:
    """Stop in reverse start order; one failing to stop does not keep the others running."""
    for component in reversed(components):
        try:
            await component.stop()
        except Exception:  # the outermost boundary of a component's life
            log.exception("component %s failed to stop", type(component).__name__)


__all__ = ["Part", "build_host", "build_parts", "part_routes", "stop_components"]
