"""Whole user records: what a node of a cluster shares of its identity store, and the merge.

A record is one user as it is stored: name, password hash, role, disabled, groups and every
certificate issued to it. Nodes exchange records through the shared journal
(``cluster.identities``) and merge them into their own SQLite identity store, which stays what
the TLS handshake and the admin commands read. The merge is the same whatever the order in
which records arrive for what only grows: a certificate is never forgotten and a revocation
never undone (the earliest revocation time is kept). The user's own fields (password, role,
disabled, groups) are those of the record merged last, i.e. of the journal's latest entry.
"""

import json
from typing import Any, NamedTuple

from rallypoint.errors import PkiError
from rallypoint.pki.identities import USER_NAME, IdentityStore

Certificate = tuple[str, str, str, str | None, str | None, str]
"""serial (hex), not before, not after, revoked at, client uid, fingerprint: as stored."""

_USERS = "SELECT id, name, password, role, disabled FROM users"
_GROUPS = "SELECT user_id, group_name FROM memberships"
_CERTIFICATES = (
    "SELECT user_id, serial, not_before, not_after, revoked_at, client_uid, fingerprint FROM certificates"
)


class UserRecord(NamedTuple):
    """One user and its certificates, as the identity store holds them."""

    name: str
    password: str
    """The stored hash, never the password."""
    role: str | None
    disabled: bool
    groups: tuple[str, ...]
    """Sorted."""
    certificates: tuple[Certificate, ...]
    """Sorted by serial."""

    @property
    def key(self) -> str:
        return self.name.casefold()

    @property
    def revoked(self) -> frozenset[str]:
        return frozenset(c[0] for c in self.certificates if c[3] is not None)

    def to_json(self) -> str:
        return json.dumps(self._asdict(), separators=(",", ":"))


def from_json(text: str) -> UserRecord:
    """The record of one journal entry; :class:`PkiError` if it is not one."""
    try:
        raw = json.loads(text)
        record = UserRecord(
            name=str(raw["name"]),
            password=str(raw["password"]),
            role=None if raw["role"] is None else str(raw["role"]),
            disabled=bool(raw["disabled"]),
            groups=tuple(sorted(str(group) for group in raw["groups"])),
            certificates=tuple(sorted(_certificate(row) for row in raw["certificates"])),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise PkiError(f"not a user record: {exc}") from exc
    if not USER_NAME.fullmatch(record.name):
        raise PkiError(f"not a user name: {record.name!r}")
    return record


def _certificate(row: Any) -> Certificate:
    serial, not_before, not_after, revoked_at, client_uid, fingerprint = row
    int(serial, 16)  # a ValueError for what is not a serial
    revoked = None if revoked_at is None else str(revoked_at)
    uid = None if client_uid is None else str(client_uid)
    return (str(serial), str(not_before), str(not_after), revoked, uid, str(fingerprint))


def export_records(store: IdentityStore) -> dict[str, UserRecord]:
    """Every user's record, by ``casefold``-ed name."""
    groups: dict[int, list[str]] = {}
    for user_id, group in store.query(_GROUPS):
        groups.setdefault(int(user_id), []).append(str(group))
    certificates: dict[int, list[Certificate]] = {}
    for user_id, *row in store.query(_CERTIFICATES):
        certificates.setdefault(int(user_id), []).append(_certificate(row))
    records = {}
    for user_id, name, password, role, disabled in store.query(_USERS):
        record = UserRecord(
            str(name),
            str(password),
            None if role is None else str(role),
            bool(disabled),
            tuple(sorted(groups.get(user_id, ()))),
            tuple(sorted(certificates.get(user_id, ()))),
        )
        records[record.key] = record
    return records


def merge_record(store: IdentityStore, record: UserRecord, *, fields_too: bool = True) -> int:
    """Merge ``record`` into ``store`` (see the module docstring): its certificates and
    revocations always, the user's own fields unless ``fields_too`` is False (a local change
    not yet shared, which is to follow this record). How many certificates it newly revoked."""
    newly_revoked = 0
    with store.transaction() as db:
        row = db.execute("SELECT id FROM users WHERE name_key = ?", (record.key,)).fetchone()
        fields = (record.password, record.role, int(record.disabled))
        if row is not None and not fields_too:
            user_id = int(row[0])
        elif row is None:
            cursor = db.execute(
                "INSERT INTO users (name, name_key, password, role, disabled) VALUES (?, ?, ?, ?, ?)",
                (record.name, record.key, *fields),
            )
            assert cursor.lastrowid is not None
            user_id = cursor.lastrowid
            db.executemany("INSERT INTO memberships VALUES (?, ?)", [(user_id, g) for g in record.groups])
        else:
            user_id = int(row[0])
            update = "UPDATE users SET password = ?, role = ?, disabled = ? WHERE id = ?"
            db.execute(update, (*fields, user_id))
            db.execute("DELETE FROM memberships WHERE user_id = ?", (user_id,))
            db.executemany("INSERT INTO memberships VALUES (?, ?)", [(user_id, g) for g in record.groups])
        for serial, not_before, not_after, revoked_at, client_uid, fingerprint in record.certificates:
            db.execute(
                "INSERT OR IGNORE INTO certificates VALUES (?, ?, ?, ?, NULL, ?, ?)",
                (serial, user_id, not_before, not_after, client_uid, fingerprint),
            )
            if revoked_at is not None:
                newly_revoked += db.execute(
                    "UPDATE certificates SET revoked_at = ? WHERE serial = ? AND revoked_at IS NULL",
                    (revoked_at, serial),
                ).rowcount
                db.execute(
                    "UPDATE certificates SET revoked_at = ? WHERE serial = ? AND revoked_at > ?",
                    (revoked_at, serial, revoked_at),
                )
    return newly_revoked
