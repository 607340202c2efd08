"""Failed-login throttling for the enrollment port, sans-I/O: the caller passes the time in.

A password guesser is limited twice: per user name (a distributed attack on one account) and
per client address (one host trying many accounts). Once either key has ``max_failures`` failed
logins inside the sliding window, further attempts are refused *before* the password is checked,
so a guesser learns nothing while throttled, and the slow password hash is not run for it.

Every attempt counts as a failure from the moment it starts and is taken back only when the
password turns out right. Concurrent guesses therefore cannot slip past the limit while their
password hashes are still being computed.

A success clears that user name's failures (the owner proved the password) and takes back only
its own attempt from the address: logging in to one's own account does not wipe the failures an
address has piled up against other accounts.
"""

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from math import ceil
from typing import Literal

from rallypoint.errors import ConfigError

WINDOW_S = 60.0
"""Failures older than this no longer count (the setting is "failures per minute")."""
MAX_TRACKED_KEYS = 10_000
"""User names and addresses remembered at once; the least recently seen is forgotten first.
An attacker rotating through more keys than this only gets the per-key limit on each of them."""

KeyKind = Literal["user", "address"]


@dataclass(frozen=True)
class Verdict:
    """The answer to one login attempt."""

    allowed: bool
    retry_after_s: int = 0
    """Whole seconds until the blocking key drops below the limit (0 when allowed)."""
    limited_by: KeyKind | None = None
    report: bool = False
    """True for the first refusal of a throttling episode (once per window and key), so that
    logs and the audit trail grow by one line per window, not by one per guess."""


@dataclass
class _Record:
    failures: deque[float]
    reported_until: float = field(default=float("-inf"))


class LoginThrottle:
    """Sliding-window failure counts per user name (case-insensitive) and per client address."""

    def __init__(
        self, max_failures: int, window_s: float = WINDOW_S, max_tracked: int = MAX_TRACKED_KEYS
    ) -> None:
        if max_failures < 1:
            raise ConfigError(f"enrollment_max_failures must be at least 1, not {max_failures}")
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_tracked = max_tracked
        self._records: OrderedDict[tuple[KeyKind, str], _Record] = OrderedDict()

    def attempt(self, user: str, address: str, now: float) -> Verdict:
        """Decide on a login attempt starting at ``now``; an allowed one counts as a failure
        until :meth:`succeeded` takes it back. An empty ``user`` (unreadable credentials)
        is counted against the address only."""
        keys = self._keys(user, address)
        for key in keys:
            record = self._records.get(key)
            if record is not None and self._blocking(record, now):
                return self._refuse(key, record, now)
        for key in keys:
            self._record(key).failures.append(now)
        return Verdict(allowed=True)

    def succeeded(self, user: str, address: str, started: float) -> None:
        """The attempt that :meth:`attempt` allowed at ``started`` had the right password."""
        self._records.pop(("user", user.casefold()), None)
        record = self._records.get(("address", address))
        if record is not None and started in record.failures:
            record.failures.remove(started)

    def withdraw(self, user: str, address: str, started: float) -> None:
        """Take back the attempt started at ``started`` without clearing anything else: it
        turned out not to be a password check at all (the caller needed none)."""
        for key in self._keys(user, address):
            record = self._records.get(key)
            if record is not None and started in record.failures:
                record.failures.remove(started)

    def tracked(self) -> int:
        """How many user names and addresses are remembered (bounded by ``max_tracked``)."""
        return len(self._records)

    def _keys(self, user: str, address: str) -> list[tuple[KeyKind, str]]:
        keys: list[tuple[KeyKind, str]] = [("address", address)]
        if user:
            keys.append(("user", user.casefold()))
        return keys

    def _blocking(self, record: _Record, now: float) -> bool:
        failures = record.failures
        return len(failures) >= self.max_failures and failures[0] > now - self.window_s

    def _refuse(self, key: tuple[KeyKind, str], record: _Record, now: float) -> Verdict:
        self._records.move_to_end(key)
        report = now >= record.reported_until
        if report:
            record.reported_until = now + self.window_s
        retry_after = max(1, ceil(record.failures[0] + self.window_s - now))
        return Verdict(allowed=False, retry_after_s=retry_after, limited_by=key[0], report=report)

    def _record(self, key: tuple[KeyKind, str]) -> _Record:
        record = self._records.get(key)
        if record is None:
            # Only the newest max_failures stamps decide whether a key is blocked.
            record = _Record(failures=deque(maxlen=self.max_failures))
            self._records[key] = record
            while len(self._records) > self.max_tracked:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(key)
        return record
