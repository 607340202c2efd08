"""``/Marti/api/injectors/cot/uid``: TAK Server's CoT injectors, set by administrators.

An injector ``{uid, toInject}`` adds the element ``<toInject/>`` to ``<detail>`` of every event
the device ``uid`` sends from then on, before the router chooses its receivers
(:mod:`rallypoint.router.injection`). node-tak lists them (``GET``), reads one uid's
(``GET …/{uid}``), creates them (``POST``: the same pair twice is one injector) and deletes
them (``DELETE ?uid=&toInject=``, or every injector of the uid without ``toInject``). They are
kept in the store and applied again after a restart.

As in TAK Server only administrators (members of :data:`ADMIN_GROUP`) may see or change them,
and here only within their teams (their other groups, :func:`scope_of`): an injector applies
to senders in one of the teams of the administrator who set it, and is listed to and
deletable by administrators sharing one of them. A uid the server knows only in other groups
cannot be injected (403). pytak's ``MartiTXWorker`` posts a whole ``<event>`` as ``toInject``
to the same path; that one is routed as an event by
:meth:`rallypoint.http.marti.marti.Marti.inject`, never stored.
"""

import asyncio
import logging
import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.errors import ProtocolError
from rallypoint.http.common.deps import ADMIN_GROUP, ApiDeps, Caller, caller_of, envelope, require_admin
from rallypoint.router.injection import Injection, injected_element
from rallypoint.store.base import InjectorRecord, SettingStore

log = logging.getLogger(__name__)

INJECTOR_TYPE = "com.bbn.marti.injector.UidCotTagInjector"
MAX_UID_CHARS = 256
"""A CoT uid: device uids are UUIDs or short names."""
FORBIDDEN_UID = re.compile(r"[<>'\"]")
WHAT = "manage CoT injectors"


def checked_uid(uid: object) -> str:
    """The uid as TAK Server accepts it (400 otherwise)."""
    if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_CHARS or FORBIDDEN_UID.search(uid):
        raise HTTPException(400, f"uid must be 1..{MAX_UID_CHARS} characters without <, >, or quotes")
    return uid


def checked_element(to_inject: object) -> str:
    """``<toInject/>`` as the server keeps it (400 when it is not one safe empty element)."""
    if not isinstance(to_inject, str):
        raise HTTPException(400, 'JSON body must have a "toInject" string')
    try:
        return injected_element(to_inject)
    except ProtocolError as exc:
        raise HTTPException(400, str(exc)) from exc


def scope_of(caller: Caller) -> frozenset[str]:
    """The groups an administrator's injectors are of: its own but :data:`ADMIN_GROUP`, which is
    a role shared by the administrators of every team, not a team (unless it is its only group)."""
    return caller.groups - {ADMIN_GROUP} or caller.groups


class InjectorBook:
    """The router's injection table, its durable copy in the store, and who may see what."""

    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps
        self.table = deps.router.injections
        self._lock = asyncio.Lock()
        """One change at a time: the store and the table change together."""

    def visible(self, caller: Caller, uid: str | None = None) -> list[Injection]:
        require_admin(caller, WHAT)
        return [
            i
            for i in self.table.all()
            if not i.groups.isdisjoint(scope_of(caller)) and (uid is None or i.uid == uid)
        ]

    def _store(self) -> SettingStore:
        store = self.deps.store() if self.deps.store is not None else None
        if store is None:
            raise HTTPException(503, "injectors are kept in the store, which is not open")
        return store

    def _check_uid_groups(self, caller: Caller, uid: str) -> None:
        """A uid the server knows (cached or connected) only in other groups is not the caller's."""
        entry = self.deps.router.cache.get(uid)
        device = self.deps.router.registry.by_uid(uid)
        known = [groups for groups in (entry and entry.groups, device and device.in_groups) if groups]
        if known and all(groups.isdisjoint(scope_of(caller)) for groups in known):
            raise HTTPException(403, f"uid {uid!r} sends into other groups")

    async def add(self, caller: Caller, uid: object, to_inject: object) -> None:
        require_admin(caller, WHAT)
        uid, element = checked_uid(uid), checked_element(to_inject)
        self._check_uid_groups(caller, uid)
        async with self._lock:
            existing = self.table.find(uid, element)
            if existing is not None:
                if existing.groups.isdisjoint(scope_of(caller)):
                    raise HTTPException(403, "this injector was set in other groups")
                return
            full = self.table.room_for(uid)
            if full is not None:
                raise HTTPException(429, full)
            record = InjectorRecord(uid, element, scope_of(caller), caller.name, self.deps.now_ms())
            await self._store().put_injector(record)
            self.table.add(Injection(*record))
        log.info("injector: %s injects %s into the events of %s", caller.name, element, uid)

    async def remove(self, caller: Caller, uid: str, to_inject: str | None) -> None:
        """Delete the caller's visible injectors of ``uid`` (only ``toInject``'s if given); 404 if none."""
        require_admin(caller, WHAT)
        element = None if to_inject is None else checked_element(to_inject)
        async with self._lock:
            gone = [i for i in self.visible(caller, uid) if element is None or i.element == element]
            if not gone:
                raise HTTPException(404, f"no injector of uid {uid!r} in the caller's groups")
            store = self._store()
            for injection in gone:
                await store.drop_injectors(uid, injection.element)
                self.table.remove(injection)
        log.info("injector: %s removed %d injectors of %s", caller.name, len(gone), uid)


class InjectorRoutes:
    """The list, get and delete handlers over one book (POST is in :mod:`marti`)."""

    def __init__(self, deps: ApiDeps, book: InjectorBook) -> None:
        self.deps, self.book = deps, book

    def answer(self, injections: list[Injection]) -> Response:
        rows = [{"uid": i.uid, "toInject": i.to_inject} for i in injections]
        return JSONResponse(envelope(INJECTOR_TYPE, rows, self.deps.settings.server_id))

    async def list_all(self, request: Request) -> Response:
        return self.answer(self.book.visible(caller_of(request)))

    async def list_uid(self, request: Request) -> Response:
        return self.answer(self.book.visible(caller_of(request), request.path_params["uid"]))

    async def delete(self, request: Request) -> Response:
        caller = caller_of(request)
        uid = request.query_params.get("uid", "")
        if not uid:
            raise HTTPException(400, "uid is required")
        await self.book.remove(caller, uid, request.query_params.get("toInject"))
        return self.answer(self.book.visible(caller))


def injector_routes(handlers: InjectorRoutes) -> list[BaseRoute]:
    """GET and DELETE beside the POST that :mod:`rallypoint.http.marti.marti` serves."""
    return [
        Route("/Marti/api/injectors/cot/uid", handlers.list_all, methods=["GET"]),
        Route("/Marti/api/injectors/cot/uid", handlers.delete, methods=["DELETE"]),
        Route("/Marti/api/injectors/cot/uid/{uid}", handlers.list_uid, methods=["GET"]),
    ]
