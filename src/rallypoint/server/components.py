"""The server's components (missions, fusion feeds, the web live feed) and the host they share.

:func:`build_components` decides from the settings which components run; the server starts
them after its listeners, ticks them with its own tick and stops them before the store
closes. Their HTTP routes join the Marti API's (:func:`component_routes`).
"""

import logging
from collections.abc import Sequence
from pathlib import Path

from starlette.routing import BaseRoute

from rallypoint.cot.event import Event
from rallypoint.fusion.feeds.config import load_fusion_file
from rallypoint.fusion.service import FusionService
from rallypoint.http.command_post.missions import rest_routes
from rallypoint.http.common.deps import Caller
from rallypoint.http.marti.fusion import fusion_routes
from rallypoint.http.marti.missions import mission_routes
from rallypoint.missions.service import MissionService
from rallypoint.router.host import Component, Host
from rallypoint.server.api_wiring import SERVER_TRANSPORT, route_as
from rallypoint.transport.context import ServerContext, wall_clock_ms

log = logging.getLogger(__name__)


def build_host(context: ServerContext) -> Host:
    """The host every component of this server gets."""

    def inject(event: Event, groups: frozenset[str], identity: str | None) -> int:
        transport = "https" if identity else SERVER_TRANSPORT
        return route_as(context, Caller(identity, groups, transport), event, None, wall_clock_ms())

    return Host(
        router=context.router,
        counters=context.counters,
        settings=context.settings,
        now_ms=wall_clock_ms,
        store=lambda: context.store,
        inject=inject,
        send_to=context.mailbox.send_to,
    )


def build_components(context: ServerContext, host: Host) -> list[Component]:
    """The components the settings ask for, in start order."""
    components: list[Component] = []
    if context.settings.missions_enabled:
        components.append(MissionService(host))
    if context.settings.feeds_file:
        components.append(FusionService(host, load_fusion_file(Path(context.settings.feeds_file))))
    return components


def component_routes(context: ServerContext, components: Sequence[Component]) -> list[BaseRoute]:
    """HTTP routes the components add to the API; refusals they audit go to the server's audit log."""
    routes: list[BaseRoute] = []
    for component in components:
        if isinstance(component, MissionService):
            routes += [*mission_routes(component, context.audit), *rest_routes(component, context.audit)]
        if isinstance(component, FusionService):
            routes += fusion_routes(component)
    return routes


async def stop_components(components: Sequence[Component]) -> None:
    """Stop in reverse start order; one failing to stop does not keep the others running."""
    for component in reversed(components):
        try:
            await component.stop()
        except Exception:  # the outermost boundary of a component's life
            log.exception("component %s failed to stop", type(component).__name__)


__all__ = ["build_components", "build_host", "component_routes", "stop_components"]
