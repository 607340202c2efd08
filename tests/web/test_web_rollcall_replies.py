"""Roll call answers by CoT reply and the no-position alarm, on a real server whose clock is a
ManualClock: a TAK-like client on a raw TCP socket reads the ``<__rollcall>`` tag of the
request and sends it back answered (as a plugin or pytak script would), and the page's live
feed gets the no-position alarm when time is moved past N minutes, without any wait."""

import dataclasses
import re

import httpx

from rallypoint.clock import ManualClock
from rallypoint.config import Settings
from rallypoint.missions.rollcall_service import RollCallService
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
from rallypoint.server.server import Server
from tests.conftest import RunningServer
from tests.interop.clients import event_xml, eventually
from tests.web.conftest import TIMEOUT, USERS, Browser, password
from tests.web.test_web_rollcall import device, is_request, pli, statuses

MINUTE_S = 60


def answered(uid: str, tag: str, note: str) -> bytes:
    """The device's PLI with the request's tag, its state changed to ``answered``."""
    reply = tag.replace('state="requested"', f'state="answered" text="{note}"')
    detail = f'<contact callsign="{uid}" endpoint="*:-1:stcp"/>{reply}'
    return event_xml(uid, "a-f-G-U-C", detail, lat=48.1, lon=11.5)


async def test_a_cot_reply_answers_and_the_no_position_alarm_reaches_the_page(web_settings: Settings) -> None:
    settings = dataclasses.replace(web_settings, rollcall_no_position_minutes=3)
    settings.data_dir.mkdir(parents=True)
    with IdentityStore(identity_path(settings.data_dir)) as store:
        store.add_user("alice", password("alice"), USERS["alice"])
    clock = ManualClock()
    server = Server(settings, clock=clock)
    ports = await server.start()
    running = RunningServer(server, ports)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.web}", timeout=TIMEOUT) as http:
        alice = Browser(http, ports.web or 0)
        try:
            await alice.login("alice")
            alpha = await device(running, "ALPHA-1")
            quiet = await device(running, "QUIET-1")
            async with alice.live() as live:
                await live.receive(lambda m: m["type"] == "snapshot")
                started = await alice.post("/api/rollcalls", {"deadlineSeconds": 3600})
                assert started.status_code == 201, started.text
                rollcall = started.json()
                assert rollcall["noPositionMinutes"] == 3, "the setting's default"
                request = await alpha.receive(is_request)
                found = re.search(r"<__rollcall [^>]*/>", request.detail)
                assert found is not None, request.detail
                await alpha.send(answered("ALPHA-1", found.group(0), "all 4 fine"))
                told = await live.receive(
                    lambda m: m["type"] == "rollcall" and m["rollcall"]["counts"]["answered"] == 1
                )
                assert statuses(told["rollcall"]) == {"ALPHA-1": "answered", "QUIET-1": "waiting"}
                member = next(m for m in told["rollcall"]["members"] if m["uid"] == "ALPHA-1")
                assert member["answer"] == "all 4 fine"

                clock.advance(2 * MINUTE_S)
                await alpha.send(pli("ALPHA-1"))  # a fresh position from ALPHA only
                [service] = [c for c in server.components if isinstance(c, RollCallService)]
                await eventually(lambda: service.watch.positions.get("ALPHA-1") == clock.wall_ms())
                clock.advance(MINUTE_S + 1)
                alarm = await live.receive(lambda m: m["type"] == "rollcall-no-position")
            assert (alarm["code"], alarm["minutes"], alarm["members"]) == (rollcall["code"], 3, ["QUIET-1"])
            await alpha.close()
            await quiet.close()
        finally:
            await server.stop()
