"""The supervisor of one feed: run its session, and when it dies, wait and run it again.

Delays grow exponentially from the feed's ``backoff_initial_s`` to ``backoff_max_s`` with
jitter from an injectable random generator (seeded in tests), and start again from the
bottom once a session has delivered reports: a receiver that reboots now and then is
reconnected at once, one that is down for hours is tried once a minute.

The back-off bounds how often a whole session is started (a login, a log line, a failure
counted), not how late a recovery is noticed: while it waits, the supervisor probes the
source every ``backoff_probe_s`` (a TCP connect, or a GET) and starts the session as soon
as the source answers. With a plain exponential back-off a receiver back after a 40 s
outage was first polled 8-9 s later and its reports of those seconds were lost.
"""

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from rallypoint.errors import FeedError
from rallypoint.fusion.feeds.adapters import Session
from rallypoint.fusion.feeds.backoff import Backoff
from rallypoint.fusion.feeds.transports import FeedLink, Probe, probe_source

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class FeedRunner:
    """Owns one feed's session loop; :meth:`run` returns only when cancelled."""

    def __init__(
        self,
        link: FeedLink,
        session: Session,
        *,
        rng: random.Random,
        sleep: Sleep = asyncio.sleep,
        probe: Probe = probe_source,
    ) -> None:
        self.link = link
        self.session = session
        self.sleep = sleep
        self.probe = probe
        feed = link.feed
        self.backoff = Backoff(feed.backoff_initial_s, feed.backoff_max_s, rng=rng)

    async def run(self) -> None:
        """Session after session, until cancelled."""
        health = self.link.health
        try:
            while True:
                self.link.delivered = False
                reason = await self._session()
                if self.link.delivered:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                health.failed(reason, delay)
                await self._wait(delay)
                health.retrying()
        finally:
            health.stopped()

    async def _wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds, cut short when a probe finds the source answering again."""
        step = self.link.feed.backoff_probe_s
        left = delay
        while left > step:
            await self.sleep(step)
            left -= step
            if await self.probe(self.link.feed):
                return
        await self.sleep(left)

    async def _session(self) -> str:
        name = self.link.feed.name
        try:
            await self.session(self.link)
        except FeedError as exc:
            log.warning("feed %s: %s", name, exc)
            return exc.reason
        except Exception:  # the outermost boundary of one feed: a bug must not end the others
            log.exception("feed %s crashed", name)
            return "crash"
        return "ended"
