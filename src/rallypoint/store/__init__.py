"""Persistent storage of routed events and of the data-package index (see ``base.py``).

:func:`open_store` picks the implementation from the URL in the settings:
``sqlite:///abs/path.db`` (embedded, the default) or ``postgresql://user@host:port/db``.
"""

from pathlib import Path

from rallypoint.errors import StoreError
from rallypoint.store.base import PackageRecord, Store, StoredEvent

__all__ = ["PackageRecord", "Store", "StoredEvent", "open_store"]

SQLITE_SCHEME = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_QUEUE_MAX = 100_000


def open_store(url: str, *, queue_max: int = DEFAULT_QUEUE_MAX) -> Store:
    """The store ``url`` names (not opened yet: call ``await store.open()``)."""
    if url.startswith(SQLITE_SCHEME):
        path = "/" + url[len(SQLITE_SCHEME) :].lstrip("/")  # sqlite:////abs (SQLAlchemy style) too
        if path == "/":
            raise StoreError(f"store URL {url!r} names no file")
        from rallypoint.store.sqlite import SqliteStore

        return SqliteStore(Path(path), queue_max=queue_max)
    if url.startswith(POSTGRES_SCHEMES):
        from rallypoint.store.postgres import PostgresStore

        return PostgresStore(url, queue_max=queue_max)
    raise StoreError(f"store URL {url.split('://', maxsplit=1)[0]!r}: use sqlite:///path or postgresql://…")
