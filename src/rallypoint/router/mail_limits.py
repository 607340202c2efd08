"""The mailbox's bounds per recipient: how many messages, how many bytes, how old.

Count and bytes are checked when a group commit is about to write (the store says what is
waiting for each recipient in it); what does not fit is refused with the limit it hit. Age is
enforced twice: the expiry sweep removes kept mail older than the limit (run from the server's
timer, on its clock), and a returning device is never handed mail that is already past it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from rallypoint.config import Settings
from rallypoint.store.base import MailDraft, MailStore

MAX_MAIL_PER_RECIPIENT = Settings.mail_max_per_recipient
"""Undelivered messages kept for one device at most (the setting's default; see its docstring)."""

MAX_MAIL_BYTES_PER_RECIPIENT = Settings.mail_max_bytes_per_recipient
"""Bytes of undelivered mail kept for one device at most: the count limit's worth of typical
chats (about 600 bytes each), so a few large events (a shape with thousands of points, up to
``max_event_bytes`` each) cannot pass the count limit's footprint by a hundred times."""

DEFAULT_MAX_AGE_S = Settings.mail_max_age_s
"""Kept mail older than this expires unread: a week covers a device switched off over a long
weekend or a rotation, while a chat or a tasking older than that is history, not news (ATAK
shows it in the conversation as if it had just arrived)."""

SWEEP_INTERVAL_S = 60.0
"""How often the expiry sweep runs (at most; a shorter age limit runs it as often as the age):
expired mail leaves the store within this much of its deadline, and is never handed over."""

EXPIRE_BATCH = 1000
"""Expired messages removed per transaction: a backlog of days leaves in short transactions."""

RECIPIENT_LIMIT = "recipient_limit"
RECIPIENT_BYTES = "recipient_bytes"
EXPIRED = "expired"
"""The ``mail_lost`` reasons these limits give."""


@dataclass(frozen=True)
class MailLimits:
    """The bounds of one device's mailbox (see the module docstring)."""

    max_count: int = MAX_MAIL_PER_RECIPIENT
    max_bytes: int = MAX_MAIL_BYTES_PER_RECIPIENT
    max_age_s: float = DEFAULT_MAX_AGE_S

    @property
    def max_age_ms(self) -> int:
        """:attr:`max_age_s` in milliseconds."""
        return round(self.max_age_s * 1000)

    def expired_before(self, now_ms: int) -> int:
        """Mail kept before this wall-clock time (ms) has expired at ``now_ms``."""
        return now_ms - self.max_age_ms

    def sweep_interval_ms(self) -> int:
        """How long after one expiry sweep the next is due."""
        return round(min(SWEEP_INTERVAL_S, self.max_age_s) * 1000)

    async def refusals(
        self, store: MailStore, drafts: Sequence[MailDraft], held: Sequence[bool]
    ) -> list[str | None]:
        """For each draft, the limit it would pass (None: it fits), taking the drafts in order.

        Only drafts whose ``held`` flag is set are refused; the others (accepted before, see
        the mailbox) are always kept but take up room all the same."""
        recipients = {draft.recipient for draft, limited in zip(drafts, held, strict=True) if limited}
        count = {recipient: await store.mail_count(recipient) for recipient in recipients}
        size = {recipient: await store.mail_bytes(recipient) for recipient in recipients}
        reasons: list[str | None] = []
        for draft, limited in zip(drafts, held, strict=True):
            recipient = draft.recipient
            reason = None
            if limited and count[recipient] >= self.max_count:
                reason = RECIPIENT_LIMIT
            elif limited and size[recipient] + len(draft.xml) > self.max_bytes:
                reason = RECIPIENT_BYTES
            reasons.append(reason)
            if reason is None and recipient in count:
                count[recipient] += 1
                size[recipient] += len(draft.xml)
        return reasons


__all__ = ["DEFAULT_MAX_AGE_S", "MAX_MAIL_BYTES_PER_RECIPIENT", "MAX_MAIL_PER_RECIPIENT", "MailLimits"]
