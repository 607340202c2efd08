"""What every listener and connection shares: settings, router, counters, clocks, limits, and
(when a TLS, enrollment or web port is on) the certificate authority, the identity store, its
watch and the audit log: one of each per process, opened by the server before any listener."""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rallypoint import __version__
from rallypoint.clock import Clock, SystemClock
from rallypoint.config import Settings
from rallypoint.cot.xml import XmlLimits
from rallypoint.errors import PkiError
from rallypoint.pki.audit import AuditLog
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.refusals import RefusalSummary, Summary
from rallypoint.pki.watch import IdentityWatch
from rallypoint.router.mail_limits import MailLimits
from rallypoint.router.mailbox import Mailbox
from rallypoint.router.notices import JournalNotices
from rallypoint.router.refusals import Denial, describe
from rallypoint.router.registry import Subscriber, Wake
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store import Store

log = logging.getLogger(__name__)


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch: the time written into CoT events."""
    return time.time_ns() // 1_000_000


@dataclass
class ServerContext:
    """Shared state of one running server; created once by :class:`rallypoint.server.server.Server`."""

    settings: Settings
    router: Router
    counters: Counters
    xml_limits: XmlLimits
    server_version: str = f"Rallypoint {__version__}"
    connections: set[object] = field(default_factory=set)
    watched: set[object] = field(default_factory=set)
    """Connections with a running timer (stalled writes, unfinished message): the tick checks these."""
    authority: CertificateAuthority | None = None
    identities: IdentityStore | None = None
    identity_watch: IdentityWatch | None = None
    """Tells the listeners what changed in :attr:`identities` (revocations, users, groups)."""
    audit_log: AuditLog | None = None
    store: Store | None = None
    """Routed events and the package index; opened by the server at start."""
    mailbox: Mailbox = field(init=False)
    """Store-and-forward for directed messages to offline clients."""
    clock: Clock = field(default_factory=SystemClock)
    """The process's one clock: the server's timer sleeps on it, the connection timers (stall,
    unfinished message, idle) read it; tests pass a :class:`~rallypoint.clock.ManualClock`."""

    refusals: RefusalSummary = field(default_factory=RefusalSummary)
    notices: JournalNotices = field(default_factory=JournalNotices)
    """News of shared journal entries between the nodes (cluster mode; idle in the embedded default)."""
    """Which refusals of unauthenticated clients are audited in full, and the summaries of the rest."""

    def __post_init__(self) -> None:
        settings = self.settings
        limits = MailLimits(
            max_count=settings.mail_max_per_recipient,
            max_bytes=settings.mail_max_bytes_per_recipient,
            max_age_s=settings.mail_max_age_s,
        )
        self.mailbox = Mailbox(self.router, lambda: self.store, self.clock.wall_ms, self.xml_limits, limits)
        self.router.on_absent = self.mailbox.keep

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> "ServerContext":
        """Build the router and limits the settings describe."""
        counters = Counters()
        context = cls(
            clock=clock or SystemClock(),
            settings=settings,
            router=Router(counters=counters, isolate_teams=settings.isolate_teams),
            counters=counters,
            xml_limits=XmlLimits(max_event_bytes=settings.max_event_bytes, max_depth=settings.max_xml_depth),
        )
        context.router.refusals.on_denial = context.audit_denial
        return context

    def identified_subscriber(
        self,
        wake: Wake,
        name: str,
        groups: Iterable[str],
        *,
        transport: str,
        address: str,
        now_ms: int,
        receives: bool = True,
    ) -> Subscriber:
        """The router's view of the authenticated sender ``name`` (a TLS client, an API caller):
        in ``groups`` both ways, and the owner of its uids when TLS anti-spoofing is on. One
        place, so that a stream and a REST request of the same identity are treated alike."""
        return Subscriber(
            wake,
            transport=transport,
            address=address,
            in_groups=groups,
            out_groups=groups,
            identity=name,
            owner=name if self.settings.anti_spoofing_tls else None,
            receives=receives,
            binds=receives,
            now_ms=now_ms,
        )

    def audit(self, kind: str, **fields: str | int | None) -> None:
        """Append one entry to the audit log, if this server keeps one (TLS or enrollment on)."""
        if self.audit_log is None:
            return
        try:
            self.audit_log.append(kind, datetime.now(UTC), **fields)
        except PkiError as exc:  # a full disk must not take the connection that caused the entry down
            self.counters.inc("audit_failed")
            log.error("audit entry %s lost: %s", kind, exc)

    def audit_denial(self, denial: Denial) -> None:
        """The router refused a spoofed event or a delivery across groups: record who and what."""
        self.audit(
            denial.kind,
            identity=describe(denial.sender),
            address=denial.sender.address,
            transport=denial.sender.transport,
            type=denial.event.type,
            uid=denial.event.uid,
            subject=denial.subject,
            other=denial.other,
        )

    def audit_refusal(self, kind: str, peer: str, reason: str, **fields: str | int | None) -> bool:
        """Audit a client refused before it was known, summarised per address (see ``pki.refusals``).

        Returns whether this one was audited in full, so that the caller logs it loudly only then.
        """
        host = peer.rsplit(":", 1)[0]
        full, closed = self.refusals.record(kind, host, reason, self.clock())
        self._write_summaries(closed)
        if full:
            self.audit(kind, address=peer, reason=reason, **fields)
        else:
            self.counters.inc("audit_summarised")
        return full

    def flush_refusals(self) -> None:
        """Write the summaries of the windows that have passed (the server's tick calls this)."""
        self._write_summaries(self.refusals.flush(self.clock()))

    def _write_summaries(self, summaries: list[Summary]) -> None:
        for summary in summaries:
            self.audit(
                f"{summary.kind}_summary",
                address=summary.address,
                suppressed=summary.suppressed,
                reasons=summary.reasons,
                window_s=int(summary.window_s),
            )
            log.warning(
                "%d more %s from %s in %g s (%s)",
                summary.suppressed,
                summary.kind,
                summary.address,
                summary.window_s,
                summary.reasons,
            )
