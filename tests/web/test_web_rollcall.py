"""Roll calls (PAR) on a real server: the command post starts one over the web API, TAK-like
clients on raw TCP sockets receive the GeoChat request and check in by GeoChat, an offline
device gets the request from its mailbox when it returns, the page is told live (answers and
the overdue alarm), the state survives a restart, and hostile requests change nothing."""

import dataclasses
from collections.abc import Callable
from typing import Any

import httpx

from rallypoint.clock import ManualClock
from rallypoint.config import Settings
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
from rallypoint.server.server import Server
from tests.conftest import RunningServer
from tests.interop.clients import Message, TakClient, chat_xml, event_xml, eventually, has_type
from tests.web.conftest import TIMEOUT, USERS, Browser, password

SERVER_UID = "rallypoint"


def pli(uid: str, team: str = "Cyan") -> bytes:
    detail = f'<contact callsign="{uid}" endpoint="*:-1:stcp"/><__group name="{team}" role="Team Member"/>'
    return event_xml(uid, "a-f-G-U-C", detail, lat=48.1, lon=11.5)


def reply(uid: str, text: str) -> bytes:
    """What ATAK sends when its user answers the server's direct chat."""
    return chat_xml(uid, uid, text, to_uid=SERVER_UID, to_callsign="Rallypoint")


def is_request(message: Message) -> bool:
    return message.type == "b-t-f" and "ROLL CALL" in message.detail


async def device(server: RunningServer, uid: str, team: str = "Cyan") -> TakClient:
    client = await TakClient.connect(server.ports.tcp, uid)
    await client.send(pli(uid, team))
    router = server.server.context.router
    await eventually(lambda: router.registry.by_uid(uid) is not None)
    return client


def statuses(rollcall: dict[str, Any]) -> dict[str, str]:
    return {member["uid"]: member["status"] for member in rollcall["members"]}


async def rollcall_of(browser: Browser, rollcall_id: str) -> dict[str, Any]:
    response = await browser.get(f"/api/rollcalls/{rollcall_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_devices_get_the_request_and_check_in_by_geochat(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice = browsers()
    await alice.login("alice")
    alpha = await device(web_server, "ALPHA-1")
    bravo = await device(web_server, "BRAVO-1")
    async with alice.live() as live:
        await live.receive(lambda m: m["type"] == "snapshot")
        started = await alice.post("/api/rollcalls", {"deadlineSeconds": 600, "noPositionMinutes": 5})
        assert started.status_code == 201, started.text
        rollcall = started.json()
        assert statuses(rollcall) == {"ALPHA-1": "waiting", "BRAVO-1": "waiting"}
        request = await alpha.receive(is_request)
        assert rollcall["code"] in request.detail
        assert request.detail_element().find("__chat/chatgrp") is not None  # a GeoChat ATAK shows and answers
        await bravo.receive(is_request)

        await alpha.send(reply("ALPHA-1", "PAR"))
        receipt = await alpha.receive(lambda m: m.type == "b-t-f" and "check-in received" in m.detail)
        assert rollcall["code"] in receipt.detail
        assert alpha.seen(has_type("b-t-f-s")) == []  # the reply reached the server: not undeliverable
        told = await live.wait_for(
            lambda m: m["type"] == "rollcall" and m["rollcall"]["counts"]["answered"] == 1
        )
        assert statuses(told["rollcall"]) == {"ALPHA-1": "answered", "BRAVO-1": "waiting"}
        await bravo.send(reply("BRAVO-1", f"{rollcall['code']} with 3 pax"))
        await live.receive(lambda m: m["type"] == "rollcall" and m["rollcall"]["complete"])
    final = await rollcall_of(alice, rollcall["id"])
    assert [m["answer"] for m in final["members"]] == ["PAR", f"{rollcall['code']} with 3 pax"]
    assert [r["id"] for r in (await alice.get("/api/rollcalls")).json()] == [rollcall["id"]]
    await alpha.close()
    await bravo.close()


async def test_an_offline_device_gets_the_request_when_it_returns(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice = browsers()
    await alice.login("alice")
    away = await device(web_server, "AWAY-1")
    await away.close()
    devices = web_server.server.context.router.devices
    await eventually(lambda: (d := devices.get("AWAY-1")) is not None and not d.connected)
    started = await alice.post("/api/rollcalls", {})
    assert started.status_code == 201, started.text
    rollcall = started.json()
    back = await device(web_server, "AWAY-1")
    request = await back.receive(is_request)
    assert rollcall["code"] in request.detail
    await back.send(reply("AWAY-1", "ok"))
    await eventually(lambda: web_server.server.context.counters.get("rollcall_answered") == 1)
    assert statuses(await rollcall_of(alice, rollcall["id"])) == {"AWAY-1": "answered"}
    await back.close()


async def test_hostile_requests_and_answers_change_nothing(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice, eve = browsers(), browsers()
    await alice.login("alice")
    await eve.login("eve")
    alpha = await device(web_server, "ALPHA-1", team="Cyan")
    other = await device(web_server, "OTHER-1", team="Red")
    started = await alice.post("/api/rollcalls", {"team": "Cyan"})
    assert started.status_code == 201, started.text
    rollcall = started.json()
    assert statuses(rollcall) == {"ALPHA-1": "waiting"}

    # another group's user sees nothing and can cancel nothing
    assert (await eve.get("/api/rollcalls")).json() == []
    assert (await eve.get(f"/api/rollcalls/{rollcall['id']}")).status_code == 404
    assert (await eve.post(f"/api/rollcalls/{rollcall['id']}/cancel", {})).status_code == 404
    refused = await eve.post("/api/rollcalls", {})  # none of eve's devices is known
    assert refused.status_code == 400
    for bad in ({"deadlineSeconds": "soon"}, {"team": ["Cyan"]}, [1, 2]):
        assert (await alice.post("/api/rollcalls", bad)).status_code == 400
    anonymous = await browsers().post("/api/rollcalls", {})
    assert anonymous.status_code == 401

    # a device outside the scope names the member in its chat: its own uid is what counts
    await other.send(reply("ALPHA-1", f"PAR {rollcall['code']}"))
    counters = web_server.server.context.counters
    await eventually(lambda: counters.get("rollcall_answer_refused") == 1)
    assert statuses(await rollcall_of(alice, rollcall["id"])) == {"ALPHA-1": "waiting"}

    path = f"/api/rollcalls/{rollcall['id']}/members/ALPHA-1/account"
    assert (await eve.post(path, {"note": "by radio"})).status_code == 404
    assert (
        await alice.post(f"/api/rollcalls/{rollcall['id']}/members/OTHER-1/account", {})
    ).status_code == 404
    assert (await alice.post(path, {"note": 5})).status_code == 400
    accounted = await alice.post(path, {"note": "by radio"})
    assert accounted.status_code == 200, accounted.text
    [member] = accounted.json()["members"]
    assert (member["status"], member["answer"]) == ("answered", "accounted for by alice: by radio")

    cancelled = await alice.post(f"/api/rollcalls/{rollcall['id']}/cancel", {})
    assert cancelled.json()["state"] == "cancelled"
    assert (await alice.post(f"/api/rollcalls/{rollcall['id']}/cancel", {})).status_code == 409
    await alpha.close()
    await other.close()


async def test_the_overdue_alarm_reaches_the_page_and_the_state_survives_a_restart(
    web_settings: Settings,
) -> None:
    """The server runs on a ManualClock: the deadline is reached by moving time on, not waiting."""
    web_settings.data_dir.mkdir(parents=True)
    with IdentityStore(identity_path(web_settings.data_dir)) as store:
        store.add_user("alice", password("alice"), USERS["alice"])
    clock = ManualClock()
    server = Server(web_settings, clock=clock)
    ports = await server.start()
    running = RunningServer(server, ports)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.web}", timeout=TIMEOUT) as http:
        alice = Browser(http, ports.web or 0)
        try:
            await alice.login("alice")
            alpha = await device(running, "ALPHA-1")
            late = await device(running, "LATE-1")
            async with alice.live() as live:
                await live.receive(lambda m: m["type"] == "snapshot")
                rollcall = (await alice.post("/api/rollcalls", {"deadlineSeconds": 60})).json()
                await alpha.receive(is_request)
                await alpha.send(reply("ALPHA-1", "PAR"))
                await live.receive(
                    lambda m: m["type"] == "rollcall" and m["rollcall"]["counts"]["answered"] == 1
                )
                clock.advance(61)
                alarm = await live.receive(lambda m: m["type"] == "rollcall-overdue")
            assert alarm["overdue"] == ["LATE-1"]
            await alpha.close()
            await late.close()
        finally:
            await server.stop()

    again = Server(web_settings, clock=clock)
    ports = await again.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.web}", timeout=TIMEOUT) as http:
        try:
            browser = Browser(http, ports.web or 0)
            await browser.login("alice")
            restored = await rollcall_of(browser, rollcall["id"])
            assert statuses(restored) == {"ALPHA-1": "answered", "LATE-1": "overdue"}
            assert restored["members"][0]["answer"] == "PAR"
        finally:
            await again.stop()


async def test_roll_calls_are_served_to_the_command_post_only(web_settings: Settings) -> None:
    """A TAK client has no roll-call call, and an anonymous caller on the plain Marti port must
    not start one for every anonymous device: the routes exist on the web port alone."""
    settings = dataclasses.replace(web_settings, api_plain_port=0)
    settings.data_dir.mkdir(parents=True)
    server = Server(settings)
    ports = await server.start()
    try:
        assert ports.api_plain is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.api_plain}") as marti:
            assert (await marti.post("/api/rollcalls", json={})).status_code == 404
            assert (await marti.get("/api/rollcalls")).status_code == 404
            assert (await marti.get("/Marti/api/version")).status_code == 200  # the port itself serves
    finally:
        await server.stop()
    assert server.context.counters.get("rollcall_started") == 0
