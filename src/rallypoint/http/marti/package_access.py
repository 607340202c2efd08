"""Who may read a data package, and what the package routes need from the server.

Shared by :mod:`rallypoint.http.marti.packages` (upload, search, download) and
:mod:`rallypoint.http.marti.package_edits` (keywords, deletion).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request

from rallypoint.config import Settings
from rallypoint.cot.event import Event
from rallypoint.http.common.deps import Caller, caller_of
from rallypoint.http.common.uploads import Received, is_sha256, keep
from rallypoint.store.base import PackageRecord, PackageStore

Announce = Callable[[Event, frozenset[str], str | None], None]
"""Route ``event`` to clients in ``groups``, as sent by ``identity`` (provided by the server)."""


@dataclass(frozen=True)
class PackageDeps:
    """What the package routes need from the running server."""

    data_dir: Path
    settings: Settings
    store: Callable[[], PackageStore | None]
    """The open store, or None while it is closed (the routes then answer 503)."""
    announce: Announce
    now_ms: Callable[[], int]
    caller: Callable[[Request], Caller] = caller_of
    """Who is calling; the default reads what the listener bound to the request (401 if nothing)."""
    count: Callable[[str], None] = lambda name: None
    """Bump the server counter ``name`` (refused uploads, per reason)."""
    download_url: Callable[[Request, str], str] | None = None
    """The download link of a hash; None builds it from the request (see :meth:`link`)."""

    def link(self, request: Request, sha256: str) -> str:
        """``<scheme>://<host>:<port>/Marti/sync/content?hash=<sha256>``.

        The link is sent to other clients, so the Host header is trusted only when it names
        one of the configured ``hostnames``; otherwise the first configured name is used.
        """
        if self.download_url is not None:
            return self.download_url(request, sha256)
        return download_link(request, self.settings, sha256)


def download_link(request: Request, settings: Settings, sha256: str) -> str:
    """The link of :meth:`PackageDeps.link` built from the request and the configured hostnames."""
    url = request.url
    names = settings.hostname_list
    host = url.hostname if url.hostname in names or not names else names[0]
    host = f"[{host}]" if host and ":" in host else host
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{host}{port}/Marti/sync/content?hash={sha256}"


def visible(record: PackageRecord, caller: Caller) -> bool:
    """A record is visible to callers sharing one of its groups."""
    return not record.groups.isdisjoint(caller.groups)


def current(record: PackageRecord, now_ms: int) -> bool:
    """A record past its expiration is no longer offered (listed, read or changed)."""
    return record.expiration < 0 or record.expiration * 1000 > now_ms


def open_store_of(deps: PackageDeps) -> PackageStore:
    """The open store, or 503."""
    store = deps.store()
    if store is None:
        raise HTTPException(503, "the store is not open")
    return store


async def visible_record(deps: PackageDeps, request: Request, sha256: str) -> PackageRecord | None:
    """The caller's view of ``sha256``: its own record, else the newest it may see (None for a
    bad hash too: never say why). Records are per submitter, so another group's record of the
    same bytes is never the one a caller reads, changes or deletes."""
    caller = deps.caller(request)
    sha256 = sha256.lower()
    if not is_sha256(sha256):
        return None
    records = await open_store_of(deps).packages_of(sha256)
    now = deps.now_ms()
    return choose_record([record for record in records if current(record, now)], caller)


def choose_record(records: list[PackageRecord], caller: Caller) -> PackageRecord | None:
    """Of the records of one hash (newest first), the caller's own, else the newest visible one."""
    seen = [record for record in records if visible(record, caller)]
    own = [record for record in seen if record.submitter == caller.name]
    chosen = own or seen
    return chosen[0] if chosen else None


async def save_record(
    store: PackageStore, received: Received, record: PackageRecord, data_dir: Path
) -> PackageRecord:
    """Keep the file once under its hash, and index ``record`` as its submitter's own record.

    A submitter uploading the same bytes again keeps the groups of its earlier record too;
    records of other submitters are left exactly as they are."""
    existing = next(
        (r for r in await store.packages_of(record.hash) if r.submitter == record.submitter), None
    )
    if existing is not None:
        record = record._replace(groups=record.groups | existing.groups)
    keep(received, data_dir)
    await store.put_package(record)
    return record


def shown_groups(record: PackageRecord, caller: Caller) -> list[str]:
    """The record's groups the caller is in: a record never names a group to an outsider."""
    return sorted(record.groups & caller.groups)
