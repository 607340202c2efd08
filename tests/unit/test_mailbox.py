"""Store-and-forward decisions and ordering with in-memory subscribers and a scripted store."""

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import cast

from rallypoint.clock import ManualClock
from rallypoint.cot.xml import DEFAULT_LIMITS, parse_event
from rallypoint.errors import StoreError
from rallypoint.router.mail_limits import MailLimits
from rallypoint.router.mailbox import MAIL_PAGE, Mailbox
from rallypoint.router.message import Outbound
from rallypoint.router.router import Router
from rallypoint.store.base import MailDraft, MailItem, Store
from tests.interop.clients import chat_xml
from tests.unit.test_router import NOW, Client, _pli, _router, _submit
from tests.waiting import EVENT_TIMEOUT_S


class MailStore:
    """Just the mail part of a store; ``gate`` holds ``mail_for`` until the test opens it, and
    ``reading`` tells that a ``mail_for`` has started."""

    def __init__(self) -> None:
        self.items: list[MailItem] = []
        self.ids = itertools.count(1)
        self.delivered: set[int] = set()
        self.gate = asyncio.Event()
        self.gate.set()
        self.reading = asyncio.Event()
        self.transactions = 0
        self.failing: StoreError | None = None

    async def put_mail(self, recipient: str, time: int, xml: bytes) -> int:
        await self.put_mail_many([MailDraft(recipient, time, xml)])
        return self.items[-1].id

    async def put_mail_many(self, items: Sequence[MailDraft]) -> None:
        if self.failing is not None:
            raise self.failing
        self.transactions += 1
        for item in items:
            self.items.append(MailItem(next(self.ids), *item[:4]))

    async def mail_for(self, recipient: str, *, after_id: int = 0, limit: int = 10_000) -> list[MailItem]:
        self.reading.set()
        await self.gate.wait()
        return [
            m
            for m in self.items
            if m.recipient == recipient and m.id not in self.delivered and m.id > after_id
        ][:limit]

    async def mail_count(self, recipient: str) -> int:
        return len(self.waiting_for(recipient))

    async def mail_bytes(self, recipient: str) -> int:
        return sum(len(m.xml) for m in self.items if m.recipient == recipient and m.id not in self.delivered)

    async def expire_mail(self, before: int, *, limit: int = 1000) -> list[MailItem]:
        expired = [m for m in self.items if m.time < before and m.id not in self.delivered][:limit]
        self.items = [m for m in self.items if m not in expired]
        return expired

    async def mark_delivered(self, ids: Sequence[int], time: int) -> None:
        self.delivered.update(ids)

    def waiting_for(self, recipient: str) -> list[str]:
        return [
            parse_event(m.xml).uid
            for m in self.items
            if m.recipient == recipient and m.id not in self.delivered
        ]


def _directed(uid: str, *, to_uid: str = "", to_callsign: str = "") -> bytes:
    dest = f'<dest uid="{to_uid}"/>' if to_uid else f'<dest callsign="{to_callsign}"/>'
    return (
        f'<event version="2.0" uid="{uid}" type="b-m-p-s-p-i" how="h-g-i-g-o" time="2023-11-14T22:13:20.000Z"'
        f' start="2023-11-14T22:13:20.000Z" stale="2099-01-01T00:00:00.000Z"><point lat="1" lon="2"/>'
        f"<detail><marti>{dest}</marti></detail></event>"
    ).encode()


def _setup(
    limits: MailLimits | None = None, now_ms: Callable[[], int] = lambda: NOW
) -> tuple[Router, MailStore, Mailbox]:
    router = _router()
    store = MailStore()
    mailbox = Mailbox(router, lambda: cast(Store, store), now_ms, DEFAULT_LIMITS, limits)
    router.on_absent = mailbox.keep
    mailbox.start()
    return router, store, mailbox


def _leave(router: Router, client: Client) -> None:
    router.detach(client.sub, NOW)


def _return(router: Router, groups: tuple[str, ...] = ("__ANON__",)) -> Client:
    return Client(router, groups)


async def test_directed_messages_to_a_departed_client_wait_and_arrive_in_order() -> None:
    router, store, mailbox = _setup()
    post, team = Client(router), Client(router)
    _submit(router, team, _pli("TEAM", "Rescue-3"))
    _leave(router, team)
    _submit(router, post, _directed("m1", to_uid="TEAM"))
    _submit(router, post, _directed("m2", to_callsign="Rescue-3"))
    _submit(router, post, _directed("m3", to_uid="TEAM"))
    await mailbox.drain()
    assert store.waiting_for("TEAM") == ["m1", "m2", "m3"]

    back = _return(router)
    _submit(router, back, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()
    assert [u for u in back.uids if u.startswith("m")] == ["m1", "m2", "m3"]
    assert store.waiting_for("TEAM") == ["m1", "m2", "m3"]  # handed over, not acknowledged yet
    mailbox.acknowledged(back.received)  # what its connection reports once TCP acknowledged them
    await mailbox.drain()
    assert store.waiting_for("TEAM") == []
    await mailbox.stop()


async def test_a_live_message_during_collection_waits_behind_the_kept_ones() -> None:
    router, store, mailbox = _setup()
    post, team = Client(router), Client(router)
    _submit(router, team, _pli("TEAM", "Rescue-3"))
    _leave(router, team)
    _submit(router, post, _directed("old", to_uid="TEAM"))
    await mailbox.drain()
    store.gate.clear()
    store.reading.clear()
    back = _return(router)
    _submit(router, back, _pli("TEAM", "Rescue-3"))  # collection starts, held at mail_for
    await asyncio.wait_for(store.reading.wait(), EVENT_TIMEOUT_S)
    assert mailbox.send_to("TEAM", parse_event(_directed("live", to_uid="TEAM")))
    assert back.uids == []
    store.gate.set()
    await mailbox.drain()
    assert back.uids == ["old", "live"]
    await mailbox.stop()


async def test_unknown_and_other_group_recipients_are_not_kept() -> None:
    router, store, mailbox = _setup()
    red_post = Client(router, ("Red",))
    cyan_team = Client(router, ("Cyan",))
    _submit(router, cyan_team, _pli("TEAM", "Rescue-3"))
    _leave(router, cyan_team)
    _submit(router, red_post, _directed("cross", to_uid="TEAM"))
    _submit(router, red_post, _directed("nobody", to_uid="NEVER-SEEN"))
    await mailbox.drain()
    assert store.items == []
    assert router.counters.get("group_denied") == 1
    await mailbox.stop()


async def test_send_to_an_online_client_is_immediate_and_offline_is_kept() -> None:
    router, store, mailbox = _setup()
    team = Client(router)
    _submit(router, team, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()  # its (empty) mail was looked up when it bound its uid
    assert mailbox.send_to("TEAM", parse_event(_directed("now", to_uid="TEAM")))
    assert team.uids == ["now"]
    assert not mailbox.send_to("GONE", parse_event(_directed("later", to_uid="GONE")))
    await mailbox.drain()
    assert store.waiting_for("GONE") == ["later"]
    await mailbox.stop()


def _departed_team(router: Router) -> None:
    team = Client(router)
    _submit(router, team, _pli("TEAM", "Rescue-3"))
    _leave(router, team)


async def test_a_burst_is_group_committed_and_each_chat_answered_pending_once_durable() -> None:
    router, store, mailbox = _setup()
    _departed_team(router)
    post = Client(router)
    _submit(router, post, _pli("POST", "Command"))
    post.sub.pending.clear()
    chats = [chat_xml("POST", "Command", f"chat {n}", to_callsign="Rescue-3") for n in range(3000)]
    for chat in chats:
        assert _submit(router, post, chat) == 0
    assert post.types == []  # nothing is acknowledged before it is written
    await mailbox.drain()
    assert len(store.waiting_for("TEAM")) == 3000
    assert store.transactions <= 4
    sent = [parse_event(chat).uid for chat in chats]
    assert post.types == ["b-t-f-p"] * 3000
    assert post.uids == sent
    assert router.counters.get("mail_kept") == 3000
    await mailbox.stop()


async def test_a_recipient_over_its_limit_gets_no_more_mail_and_each_sender_is_told() -> None:
    router, store, mailbox = _setup(MailLimits(max_count=3))
    _departed_team(router)
    other = Client(router)
    _submit(router, other, _pli("OTHER", "Rescue-4"))
    _leave(router, other)
    post = Client(router)
    _submit(router, post, _pli("POST", "Command"))
    post.sub.pending.clear()
    chats = [chat_xml("POST", "Command", f"team {n}", to_callsign="Rescue-3") for n in range(5)]
    chats.append(chat_xml("POST", "Command", "other", to_callsign="Rescue-4"))
    for chat in chats:
        _submit(router, post, chat)
    await mailbox.drain()
    answers = dict(zip(post.uids, post.types, strict=True))
    expected = ["b-t-f-p"] * 3 + ["b-t-f-s"] * 2 + ["b-t-f-p"]
    assert [answers[parse_event(chat).uid] for chat in chats] == expected
    assert len(store.waiting_for("TEAM")) == 3
    assert len(store.waiting_for("OTHER")) == 1
    assert router.counters.get("mail_lost{reason=recipient_limit}") == 2

    back = _return(router)
    _submit(router, back, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()
    mailbox.acknowledged(back.received)
    await mailbox.drain()
    _leave(router, back)
    post.sub.pending.clear()
    _submit(router, post, chat_xml("POST", "Command", "room again", to_callsign="Rescue-3"))
    await mailbox.drain()
    assert post.types == ["b-t-f-p"]  # delivered mail no longer counts against the limit

    handed_back = [chat_xml("POST", "Command", f"back {n}", to_callsign="Rescue-3") for n in range(3)]
    mailbox.returned("TEAM", [Outbound(parse_event(x), directed=True, returnable=True) for x in handed_back])
    await mailbox.drain()
    assert len(store.waiting_for("TEAM")) == 4  # accepted before: kept past the limit
    post.sub.pending.clear()
    _submit(router, post, chat_xml("POST", "Command", "no room", to_callsign="Rescue-3"))
    await mailbox.drain()
    assert post.types == ["b-t-f-s"]
    await mailbox.stop()


async def test_a_failing_store_answers_failure_counts_and_recovers() -> None:
    router, store, mailbox = _setup()
    _departed_team(router)
    post = Client(router)
    _submit(router, post, _pli("POST", "Command"))
    post.sub.pending.clear()
    store.failing = StoreError("disk full")
    _submit(router, post, chat_xml("POST", "Command", "lost", to_callsign="Rescue-3"))
    await mailbox.drain()
    assert post.types == ["b-t-f-s"]
    assert router.counters.get("mail_write_errors") == 1
    assert router.counters.get("mail_lost{reason=store_error}") == 1
    assert mailbox.last_error is not None
    assert "disk full" in mailbox.last_error
    store.failing = None
    post.sub.pending.clear()
    _submit(router, post, chat_xml("POST", "Command", "kept", to_callsign="Rescue-3"))
    await mailbox.drain()
    assert post.types == ["b-t-f-p"]
    assert mailbox.last_error is None
    await mailbox.stop()


async def test_a_chat_to_a_name_nobody_had_fails_with_a_reason() -> None:
    router, _store, mailbox = _setup()
    post = Client(router)
    _submit(router, post, _pli("POST", "Command"))
    post.sub.pending.clear()
    _submit(router, post, chat_xml("POST", "Command", "anyone?", to_callsign="NOBODY"))
    await mailbox.drain()
    assert post.types == ["b-t-f-s"]
    assert router.counters.get("chat_undeliverable{reason=unknown_recipient}") == 1
    await mailbox.stop()


async def test_routed_messages_during_collection_wait_behind_every_page_of_kept_mail() -> None:
    router, store, mailbox = _setup()
    _departed_team(router)
    post = Client(router)
    kept = [f"k{n}" for n in range(2500)]  # more than two pages
    for uid in kept:
        _submit(router, post, _directed(uid, to_uid="TEAM"))
    await mailbox.drain()
    store.gate.clear()
    store.reading.clear()
    back = _return(router)
    _submit(router, back, _pli("TEAM", "Rescue-3"))
    await asyncio.wait_for(store.reading.wait(), EVENT_TIMEOUT_S)
    _submit(router, post, _directed("live", to_uid="TEAM"))  # routed live while the mail is read
    assert [u for u in back.uids if u.startswith(("k", "live"))] == []
    store.gate.set()
    await mailbox.drain()
    assert [u for u in back.uids if u.startswith(("k", "live"))] == [*kept, "live"]
    mailbox.acknowledged(back.received)
    await mailbox.drain()
    assert store.waiting_for("TEAM") == []
    await mailbox.stop()


async def test_unacknowledged_messages_of_an_ended_connection_are_kept_again_in_order() -> None:
    router, store, mailbox = _setup()
    _departed_team(router)
    post = Client(router)
    _submit(router, post, _directed("kept", to_uid="TEAM"))
    await mailbox.drain()
    back = _return(router)
    _submit(router, back, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()
    _submit(router, post, _directed("live1", to_uid="TEAM"))
    _submit(router, post, _directed("live2", to_uid="TEAM"))
    handed = [m for m in back.received if m.returnable]
    assert [m.event.uid for m in handed] == ["kept", "live1", "live2"]
    mailbox.acknowledged(handed[:1])  # only the kept one reached the device
    _leave(router, back)
    mailbox.returned("TEAM", handed[1:])  # the connection ended with the rest unacknowledged
    await mailbox.drain()
    assert store.waiting_for("TEAM") == ["live1", "live2"]
    assert router.counters.get("mail_returned") == 2
    again = _return(router)
    _submit(router, again, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()
    assert [u for u in again.uids if u.startswith(("kept", "live"))] == ["live1", "live2"]
    await mailbox.stop()


def _chatting_post(router: Router) -> Client:
    post = Client(router)
    _submit(router, post, _pli("POST", "Command"))
    post.sub.pending.clear()
    return post


async def test_a_recipient_over_its_bytes_limit_is_refused_and_each_sender_told() -> None:
    chats = [chat_xml("POST", "Command", f"{n} " + "x" * 300, to_callsign="Rescue-3") for n in range(4)]
    router, store, mailbox = _setup(MailLimits(max_bytes=1))
    _departed_team(router)
    post = _chatting_post(router)
    _submit(router, post, chats[0])
    await mailbox.drain()
    assert post.types == ["b-t-f-s"]  # not even one fits in one byte
    mailbox.mail_limits = MailLimits()
    for chat in chats[1:3]:
        _submit(router, post, chat)
    await mailbox.drain()
    full = await store.mail_bytes("TEAM")
    assert full > 600
    mailbox.mail_limits = MailLimits(max_bytes=full)  # exactly what waits: no room for one more
    post.sub.pending.clear()
    _submit(router, post, chats[3])
    await mailbox.drain()
    assert post.types == ["b-t-f-s"]
    assert router.counters.get("mail_lost{reason=recipient_bytes}") == 2
    assert router.counters.get("mail_lost{reason=recipient_limit}") == 0
    mailbox.returned("TEAM", [Outbound(parse_event(chats[3]), directed=True, returnable=True)])
    await mailbox.drain()
    assert await store.mail_bytes("TEAM") > full  # accepted before: kept past the limit
    await mailbox.stop()


async def test_mail_past_its_age_is_never_handed_over_and_the_sweep_removes_counts_and_tells() -> None:
    clock = ManualClock()
    router, store, mailbox = _setup(MailLimits(max_age_s=3600), now_ms=clock.wall_ms)
    _departed_team(router)
    post = _chatting_post(router)
    old = chat_xml("POST", "Command", "old", to_callsign="Rescue-3")
    _submit(router, post, old)
    _submit(router, post, _directed("old-marker", to_uid="TEAM"))
    await mailbox.drain()
    assert mailbox.tick(clock.wall_ms()) == clock.wall_ms() + 60_000  # nothing old yet
    await mailbox.drain()
    clock.advance(1800)
    young = chat_xml("POST", "Command", "young", to_callsign="Rescue-3")
    _submit(router, post, young)
    await mailbox.drain()
    post.sub.pending.clear()
    clock.advance(1801)  # the first two are older than an hour now, the sweep has not run

    back = _return(router)
    _submit(router, back, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()
    assert [m.event.uid for m in back.received if m.returnable] == [parse_event(young).uid]
    _leave(router, back)
    assert len(store.waiting_for("TEAM")) == 3  # skipped, not removed: the sweep does that

    mailbox.tick(clock.wall_ms())
    await mailbox.drain()
    assert store.waiting_for("TEAM") == [parse_event(young).uid]
    assert router.counters.get("mail_lost{reason=expired}") == 2
    answers = [(m.event.type, m.event.uid) for m in post.received if m.event.type.startswith("b-t-f")]
    assert answers == [("b-t-f-s", parse_event(old).uid)]  # its sender is still connected: told
    await mailbox.stop()


async def test_an_expiry_backlog_leaves_in_batches_between_other_jobs() -> None:
    clock = ManualClock()
    router, store, mailbox = _setup(MailLimits(max_age_s=60), now_ms=clock.wall_ms)
    _departed_team(router)
    post = Client(router)
    for n in range(2500):
        _submit(router, post, _directed(f"k{n}", to_uid="TEAM"))
    await mailbox.drain()
    clock.advance(61)
    mailbox.tick(clock.wall_ms())
    await mailbox.drain()
    assert store.items == []
    assert router.counters.get("mail_lost{reason=expired}") == 2500
    assert mailbox.tick(clock.wall_ms()) == clock.wall_ms() + 60_000  # not due again before a minute
    await mailbox.stop()


async def test_each_page_of_kept_mail_waits_until_the_write_queue_has_drained() -> None:
    router, store, mailbox = _setup()
    _departed_team(router)
    post = Client(router)
    kept = [f"k{n}" for n in range(2 * MAIL_PAGE + 500)]
    for uid in kept:
        _submit(router, post, _directed(uid, to_uid="TEAM"))
    await mailbox.drain()
    back = _return(router)
    room = False
    back.sub.writable = lambda: room
    _submit(router, back, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()
    assert mailbox.send_to("TEAM", parse_event(_directed("live", to_uid="TEAM")))  # held behind the mail

    def handed() -> list[str]:
        return [u for u in back.uids if u.startswith(("k", "live"))]

    assert handed() == kept[:MAIL_PAGE]
    await mailbox.drain()
    assert handed() == kept[:MAIL_PAGE]  # nothing more until the connection says it has room
    ready = back.sub.on_writable
    assert ready is not None
    back.sub.on_writable = None
    ready()
    await mailbox.drain()
    assert handed() == kept[: 2 * MAIL_PAGE]
    room = True  # drained at once from now on: the rest follows without waiting
    ready = back.sub.on_writable
    assert ready is not None
    ready()
    await mailbox.drain()
    assert handed() == [*kept, "live"]
    mailbox.acknowledged(back.received)
    await mailbox.drain()
    assert store.waiting_for("TEAM") == []
    await mailbox.stop()


async def test_a_connection_that_ends_while_its_mail_waits_for_room_keeps_the_rest() -> None:
    router, store, mailbox = _setup()
    _departed_team(router)
    post = Client(router)
    kept = [f"k{n}" for n in range(MAIL_PAGE + 10)]
    for uid in kept:
        _submit(router, post, _directed(uid, to_uid="TEAM"))
    await mailbox.drain()
    back = _return(router)
    back.sub.writable = lambda: False
    _submit(router, back, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()
    assert mailbox.send_to("TEAM", parse_event(_directed("live", to_uid="TEAM")))
    _leave(router, back)
    ready = back.sub.on_writable
    assert ready is not None
    ready()  # what the connection does when it ends
    await mailbox.drain()
    assert len([u for u in back.uids if u.startswith("k")]) == MAIL_PAGE
    assert store.waiting_for("TEAM") == [*kept, "live"]  # nothing was acknowledged; the live one kept
    again = _return(router)
    _submit(router, again, _pli("TEAM", "Rescue-3"))
    await mailbox.drain()
    assert [u for u in again.uids if u.startswith(("k", "live"))] == [*kept, "live"]
    await mailbox.stop()
