"""``GET /Marti/api/groups/all`` carries TAK Server's ``created`` (``yyyy-MM-dd``): the day the
server first served each group, the same after a restart. The servers run on a
:class:`ManualClock` set to a chosen day, so the days differ without waiting for one."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from rallypoint.clock import ManualClock
from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.conftest import Credentials, PkiFixture, RunningServer
from tests.integration.test_marti_api import https, tls_settings

__all__ = ["tls_settings"]

FIRST_DAY = datetime(2020, 1, 2, 23, 59, tzinfo=UTC)
LATER_DAY = datetime(2021, 6, 1, 8, 0, tzinfo=UTC)


@asynccontextmanager
async def serving_on(settings: Settings, day: datetime) -> AsyncIterator[RunningServer]:
    server = Server(settings, clock=ManualClock(wall_ms=int(day.timestamp() * 1000)))
    ports = await server.start()
    try:
        yield RunningServer(server, ports)
    finally:
        await server.stop()


async def created_days(
    server: RunningServer, pki: PkiFixture, who: Credentials
) -> dict[tuple[str, str], str]:
    async with https(server, pki, who) as client:
        body = (await client.get("/Marti/api/groups/all", params={"useCache": "true"})).json()
    return {(row["name"], row["direction"]): row["created"] for row in body["data"]}


async def test_a_groups_created_day_is_kept_across_a_restart(tls_settings: Settings, pki: PkiFixture) -> None:
    carol, dave = pki.add_user("carol", "ops"), pki.add_user("dave", "ops", "logistics")
    async with serving_on(tls_settings, FIRST_DAY) as first:
        before = await created_days(first, pki, carol)
    async with serving_on(tls_settings, LATER_DAY) as second:
        after = await created_days(second, pki, dave)
    assert before == {("ops", "IN"): "2020-01-02", ("ops", "OUT"): "2020-01-02"}
    assert after == {
        ("logistics", "IN"): "2021-06-01",
        ("logistics", "OUT"): "2021-06-01",
        ("ops", "IN"): "2020-01-02",
        ("ops", "OUT"): "2020-01-02",
    }
