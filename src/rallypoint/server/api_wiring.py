"""What the HTTP API gets from the running server: its router, counters, store, and a way to
route an event as if a given identity had sent it on a stream.

An event posted over HTTP (or a data-package announcement) comes from a one-shot sender
that receives nothing and binds no uid: it has the caller's groups and, for anti-spoofing,
the caller's identity as owner, so a REST client can neither reach groups it is not in nor
overwrite what another identity owns.
"""

from rallypoint.cot.event import Event
from rallypoint.http.common.deps import ApiDeps, Caller, Submit
from rallypoint.http.marti.packages import PackageDeps
from rallypoint.router.registry import ANONYMOUS_GROUP, Subscriber
from rallypoint.transport.context import ServerContext, wall_clock_ms
from rallypoint.transport.stream import StreamConnection

SERVER_TRANSPORT = "server"
"""The transport label of events the server itself routes (components: missions, fusion)."""


def _no_wake() -> None:
    """A REST sender receives nothing, so there is nothing to wake."""


def route_as(context: ServerContext, caller: Caller, event: Event, xml: bytes | None, now: int) -> int:
    """Route ``event`` as sent by ``caller``; return how many clients it was handed to."""
    if caller.name is None:  # an anonymous REST caller sends into __ANON__; the server into its groups
        sender = Subscriber(
            _no_wake,
            transport=caller.transport,
            address=caller.address,
            in_groups=caller.groups if caller.transport == SERVER_TRANSPORT else (ANONYMOUS_GROUP,),
            receives=False,
            binds=False,
            now_ms=now,
        )
    else:
        sender = context.identified_subscriber(
            _no_wake,
            caller.name,
            caller.groups,
            transport=caller.transport,
            address=caller.address,
            now_ms=now,
            receives=False,
        )
    return context.router.submit(sender, event, xml, now)


def submitter(context: ServerContext) -> Submit:
    """The API's ``submit``: count the event as input of the caller's transport, then route it."""

    def submit(caller: Caller, event: Event, xml: bytes) -> int:
        context.counters.inc(f"events_in{{transport={caller.transport},format=xml}}")
        return route_as(context, caller, event, xml, wall_clock_ms())

    return submit


def api_deps(context: ServerContext) -> ApiDeps:
    """The Marti, history and operations routes' view of this server."""

    def queue_depth() -> int:
        return sum(
            c.egress.outbox.queued_messages for c in context.connections if isinstance(c, StreamConnection)
        )

    return ApiDeps(
        router=context.router,
        counters=context.counters,
        settings=context.settings,
        server_version=context.server_version,
        submit=submitter(context),
        now_ms=context.clock.wall_ms,
        store=lambda: context.store,
        queue_depth=queue_depth,
        faults=lambda: store_faults(context),
    )


def store_faults(context: ServerContext) -> list[str]:
    """Why the store is failing now: the event writer's and the mailbox's last errors."""
    faults: list[str] = []
    store = context.store
    if store is not None:
        _lost, error = store.write_health()
        if error is not None:
            faults.append(f"events not stored: {error}")
    if context.mailbox.last_error is not None:
        faults.append(context.mailbox.last_error)
    return faults


def package_deps(context: ServerContext) -> PackageDeps:
    """The data-package routes' view of this server: announcements go out as from the uploader."""

    def announce(event: Event, groups: frozenset[str], identity: str | None) -> None:
        route_as(
            context, Caller(identity, groups, "https" if identity else "http"), event, None, wall_clock_ms()
        )

    return PackageDeps(
        data_dir=context.settings.data_dir,
        settings=context.settings,
        store=lambda: context.store,
        announce=announce,
        now_ms=wall_clock_ms,
        count=context.counters.inc,
    )
