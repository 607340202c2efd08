"""The one schema of both stores, as numbered migrations applied in order at open.

Each migration is written once with a few type placeholders that the dialects fill in
(SQLite has no arrays or BYTEA), so the two databases cannot drift apart. The version
reached is kept in ``schema_version``; a migration and its version row commit together.
"""

from typing import NamedTuple


class Dialect(NamedTuple):
    """Column types that differ between SQLite and PostgreSQL."""

    name: str
    serial: str
    """An auto-numbered primary key."""
    text_list: str
    """A list of strings: ``TEXT[]``, or JSON text in SQLite."""
    binary_text: str
    """Text compared byte by byte, so a prefix is a range on its index."""
    blob: str
    empty_list: str
    """The literal of an empty ``text_list``."""


SQLITE = Dialect("sqlite", "INTEGER PRIMARY KEY", "TEXT", "TEXT", "BLOB", "'[]'")
POSTGRES = Dialect(
    "postgres",
    "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    "TEXT[]",
    'TEXT COLLATE "C"',
    "BYTEA",
    "'{}'",
)

CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied BIGINT)"
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE events (
            id {serial},
            uid {binary_text} NOT NULL,
            type {binary_text} NOT NULL,
            time BIGINT NOT NULL,
            stale BIGINT NOT NULL,
            lat DOUBLE PRECISION NOT NULL,
            lon DOUBLE PRECISION NOT NULL,
            hae DOUBLE PRECISION NOT NULL,
            groups {text_list} NOT NULL,
            sender TEXT,
            xml {blob} NOT NULL
        )""",
        "CREATE INDEX events_time ON events (time)",
        "CREATE INDEX events_uid_time ON events (uid, time)",
        "CREATE INDEX events_type ON events (type)",
        """CREATE TABLE packages (
            hash TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            filename TEXT NOT NULL,
            mime_type TEXT NOT NULL,
            size BIGINT NOT NULL,
            submitter TEXT,
            creator_uid TEXT,
            groups {text_list} NOT NULL,
            keywords {text_list} NOT NULL,
            tool TEXT NOT NULL,
            submitted BIGINT NOT NULL,
            uid TEXT NOT NULL
        )""",
        "CREATE INDEX packages_submitted ON packages (submitted)",
    ),
    (
        # Directed messages: the identities they were handed to may read them back.
        "ALTER TABLE events ADD COLUMN recipients {text_list} NOT NULL DEFAULT {empty_list}",
        # Components' append-only state (missions, objectives …), replayed at start.
        """CREATE TABLE journal (
            id {serial},
            stream {binary_text} NOT NULL,
            time BIGINT NOT NULL,
            author TEXT,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX journal_stream ON journal (stream, id)",
        # Store-and-forward: messages kept for offline recipients until delivered.
        """CREATE TABLE mail (
            id {serial},
            recipient TEXT NOT NULL,
            time BIGINT NOT NULL,
            xml {blob} NOT NULL,
            delivered BIGINT
        )""",
        "CREATE INDEX mail_recipient ON mail (recipient, id)",
    ),
    (
        # One record per (content, submitter): the same bytes uploaded by two identities are
        # two records with their own groups, names and rights; the file is still kept once.
        """CREATE TABLE packages_owned (
            hash TEXT NOT NULL,
            owner TEXT NOT NULL,
            name TEXT NOT NULL,
            filename TEXT NOT NULL,
            mime_type TEXT NOT NULL,
            size BIGINT NOT NULL,
            submitter TEXT,
            creator_uid TEXT,
            groups {text_list} NOT NULL,
            keywords {text_list} NOT NULL,
            tool TEXT NOT NULL,
            submitted BIGINT NOT NULL,
            uid TEXT NOT NULL,
            PRIMARY KEY (hash, owner)
        )""",
        """INSERT INTO packages_owned (hash, owner, name, filename, mime_type, size, submitter,
            creator_uid, groups, keywords, tool, submitted, uid)
        SELECT hash, COALESCE(submitter, ''), name, filename, mime_type, size, submitter,
            creator_uid, groups, keywords, tool, submitted, uid FROM packages""",
        "DROP TABLE packages",
        "ALTER TABLE packages_owned RENAME TO packages",
        "CREATE INDEX packages_submitted ON packages (submitted)",
    ),
    (
        # Mailbox limits and expiry: who sent each kept message (told when it expires unread),
        # and kept mail by age, for the expiry sweep.
        "ALTER TABLE mail ADD COLUMN sender TEXT",
        "CREATE INDEX mail_time ON mail (time)",
    ),
    # When a file stops being offered (TAK's EXPIRATION, epoch seconds; -1: never).
    ("ALTER TABLE packages ADD COLUMN expiration BIGINT NOT NULL DEFAULT -1",),
    (
        # Units the command post lost contact with: their last report, kept across a restart.
        """CREATE TABLE lost_units (
            uid {binary_text} PRIMARY KEY,
            since BIGINT NOT NULL,
            reason TEXT NOT NULL,
            groups {text_list} NOT NULL,
            xml {blob} NOT NULL
        )""",
    ),
    (
        # TAK Server's CoT injectors: an element added to the detail of every event of one uid,
        # set by an administrator of the groups it applies in.
        """CREATE TABLE injectors (
            uid {binary_text} NOT NULL,
            element TEXT NOT NULL,
            groups {text_list} NOT NULL,
            creator TEXT,
            created BIGINT NOT NULL,
            PRIMARY KEY (uid, element)
        )""",
        # When the server first served each group (TAK Server's Group ``created``).
        "CREATE TABLE group_names (name TEXT PRIMARY KEY, created BIGINT NOT NULL)",
    ),
    (
        # Site federation, exactly once across a restart: an event (and mail) that entered from
        # another site carries its crossing key (remote, uid, time) and is stored once per key;
        # the last stream sequence of each remote whose effects are all durable.
        "ALTER TABLE events ADD COLUMN crossing TEXT",
        "CREATE UNIQUE INDEX events_crossing ON events (crossing) WHERE crossing IS NOT NULL",
        "ALTER TABLE mail ADD COLUMN crossing TEXT",
        "CREATE UNIQUE INDEX mail_crossing ON mail (recipient, crossing) WHERE crossing IS NOT NULL",
        "CREATE TABLE federation_marks (remote TEXT PRIMARY KEY, sequence BIGINT NOT NULL)",
    ),
)
"""Migration ``n`` (1-based) brings the schema from version ``n - 1`` to ``n``. Append only."""

LATEST_VERSION = len(MIGRATIONS)

EVENT_COLUMNS = (
    "uid",
    "type",
    "time",
    "stale",
    "lat",
    "lon",
    "hae",
    "groups",
    "sender",
    "xml",
    "recipients",
)
LOST_COLUMNS = ("uid", "since", "reason", "groups", "xml")
INJECTOR_COLUMNS = ("uid", "element", "groups", "creator", "created")
JOURNAL_COLUMNS = ("id", "stream", "time", "author", "body")
PACKAGE_COLUMNS = (
    "hash",
    "name",
    "filename",
    "mime_type",
    "size",
    "submitter",
    "creator_uid",
    "groups",
    "keywords",
    "tool",
    "submitted",
    "uid",
    "expiration",
)


def package_owner(submitter: str | None) -> str:
    """The ``owner`` key of a package record: its submitter, "" for anonymous uploads."""
    return submitter or ""


def pending(dialect: Dialect, current: int) -> list[tuple[int, list[str]]]:
    """The migrations after version ``current``, with their statements for ``dialect``."""
    types = dialect._asdict()
    return [
        (number, [statement.format(**types) for statement in statements])
        for number, statements in enumerate(MIGRATIONS, start=1)
        if number > current
    ]
