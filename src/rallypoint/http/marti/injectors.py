"""``/Marti/api/injectors/cot/uid``: TAK Server's per-uid CoT injectors, kept per caller.

In TAK Server an injector is a pair ``{uid, toInject}``: a text its operators attach to the
events of one CoT uid. node-tak lists them (``GET``), reads one uid's (``GET …/{uid}``),
creates them (``POST``, an upsert of the pair) and deletes them
(``DELETE ?uid=&toInject=``, or every injector of the uid without ``toInject``).

pytak's ``MartiTXWorker`` posts to the same path with a whole ``<event>`` as ``toInject``;
that one is routed as an event (:meth:`rallypoint.http.marti.marti.Marti.inject`), never
stored. Anything else is stored here.

Each injector belongs to the user who made it and the groups it had then: a caller lists and
deletes only its own, while in a group it made them in, so neither another user's nor another
group's injectors are visible or deletable. TAK Server refuses ``<``, ``>`` and quotes in the
uid and ``<``/``>`` in the text; so do we, which also keeps stored text inert.
"""

import re
from typing import NamedTuple

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.http.common.deps import ApiDeps, Caller, caller_of, envelope

INJECTOR_TYPE = "com.bbn.marti.injector.UidCotTagInjector"
MAX_INJECTORS = 1024
"""Injectors the server keeps in all: a few per device of a large deployment."""
MAX_INJECTORS_PER_USER = 64
"""Injectors one user may keep, so one caller cannot fill the server's book."""
MAX_UID_CHARS = 256
"""A CoT uid: device uids are UUIDs or short names."""
MAX_TEXT_CHARS = 4096
"""An injected text: a remark or a short tag, never a document."""
FORBIDDEN_UID = re.compile(r"[<>'\"]")
FORBIDDEN_TEXT = re.compile(r"[<>]")


class Injector(NamedTuple):
    """One stored injector, with who made it and in which groups."""

    uid: str
    to_inject: str
    owner: str | None
    groups: frozenset[str]

    def owned_by(self, caller: Caller) -> bool:
        return self.owner == caller.name and not self.groups.isdisjoint(caller.groups)

    def json(self) -> dict[str, str]:
        return {"uid": self.uid, "toInject": self.to_inject}


def checked_pair(uid: object, to_inject: object) -> tuple[str, str]:
    """The pair as TAK Server accepts it (400 otherwise)."""
    if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_CHARS or FORBIDDEN_UID.search(uid):
        raise HTTPException(400, f"uid must be 1..{MAX_UID_CHARS} characters without <, >, or quotes")
    if not isinstance(to_inject, str) or not to_inject or len(to_inject) > MAX_TEXT_CHARS:
        raise HTTPException(400, f"toInject must be 1..{MAX_TEXT_CHARS} characters")
    if FORBIDDEN_TEXT.search(to_inject):
        raise HTTPException(400, "toInject must not contain < or > (only whole events are routed)")
    return uid, to_inject


class InjectorBook:
    """The server's injectors, in memory as TAK Server keeps those set over REST."""

    def __init__(self) -> None:
        self._injectors: list[Injector] = []

    def mine(self, caller: Caller, uid: str | None = None) -> list[Injector]:
        return [i for i in self._injectors if i.owned_by(caller) and (uid is None or i.uid == uid)]

    def add(self, caller: Caller, uid: str, to_inject: str) -> Injector:
        """Store the pair for the caller (an upsert: the same pair twice is one injector)."""
        for injector in self.mine(caller, uid):
            if injector.to_inject == to_inject:
                return injector
        if len(self._injectors) >= MAX_INJECTORS:
            raise HTTPException(429, f"the server keeps at most {MAX_INJECTORS} injectors")
        if sum(i.owner == caller.name for i in self._injectors) >= MAX_INJECTORS_PER_USER:
            raise HTTPException(429, f"a user keeps at most {MAX_INJECTORS_PER_USER} injectors")
        injector = Injector(uid, to_inject, caller.name, caller.groups)
        self._injectors.append(injector)
        return injector

    def remove(self, caller: Caller, uid: str, to_inject: str | None) -> list[Injector]:
        """Delete the caller's injectors of ``uid`` (only the one pair if ``to_inject``)."""
        gone = [i for i in self.mine(caller, uid) if to_inject is None or i.to_inject == to_inject]
        self._injectors = [i for i in self._injectors if i not in gone]
        return gone


class InjectorRoutes:
    """The list, get and delete handlers over one book."""

    def __init__(self, deps: ApiDeps, book: InjectorBook) -> None:
        self.deps, self.book = deps, book

    def _answer(self, injectors: list[Injector]) -> Response:
        rows = [i.json() for i in injectors]
        return JSONResponse(envelope(INJECTOR_TYPE, rows, self.deps.settings.server_id))

    async def list_all(self, request: Request) -> Response:
        return self._answer(self.book.mine(caller_of(request)))

    async def list_uid(self, request: Request) -> Response:
        return self._answer(self.book.mine(caller_of(request), request.path_params["uid"]))

    async def delete(self, request: Request) -> Response:
        """``DELETE ?uid=[&toInject=]``: 404 if the caller has no such injector."""
        caller = caller_of(request)
        uid = request.query_params.get("uid", "")
        to_inject = request.query_params.get("toInject")
        if not uid:
            raise HTTPException(400, "uid is required")
        if not self.book.remove(caller, uid, to_inject):
            raise HTTPException(404, f"no injector of uid {uid!r} for this caller")
        return self._answer(self.book.mine(caller))


def injector_routes(deps: ApiDeps, book: InjectorBook) -> list[BaseRoute]:
    """GET and DELETE beside the POST that :mod:`rallypoint.http.marti.marti` serves."""
    handlers = InjectorRoutes(deps, book)
    return [
        Route("/Marti/api/injectors/cot/uid", handlers.list_all, methods=["GET"]),
        Route("/Marti/api/injectors/cot/uid", handlers.delete, methods=["DELETE"]),
        Route("/Marti/api/injectors/cot/uid/{uid}", handlers.list_uid, methods=["GET"]),
    ]
