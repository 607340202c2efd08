"""The cluster publisher's window: several batches await JetStream at once, yet nothing counts as
stored (no ``on_stored``, nothing off the queue) before its own acknowledgement and every one
before it, and a refusal publishes the window again from the first unstored message.

A fake NATS client records what is published; the test answers as JetStream would.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from rallypoint.cluster import publisher
from rallypoint.cluster.publisher import MAX_BATCHES_IN_FLIGHT, PUBLISH_BATCH, Publisher, Queued
from rallypoint.router.stats import Counters
from tests.waiting import eventually


@dataclass
class FakeNats:
    """Records every publish (payload and reply subject); acknowledgements come from the test."""

    published: list[tuple[bytes, str]] = field(default_factory=list)

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def subscribe(self, subject: str, cb: Any) -> None:
        self.callback = cb

    async def publish(self, subject: str, payload: bytes, reply: str = "", headers: Any = None) -> None:
        self.published.append((payload, reply))


@dataclass
class FakeAck:
    subject: str
    data: bytes
    headers: dict[str, str] | None = None


@dataclass
class Harness:
    publisher: Publisher
    nats: FakeNats
    stored: list[bytes]

    def put(self, count: int, start: int = 0) -> None:
        for n in range(start, start + count):
            payload = str(n).encode()
            self.publisher.put(Queued(payload, {}, lambda p=payload: self.stored.append(p)))

    async def ack(self, index: int, error: str | None = None) -> None:
        reply = self.nats.published[index][1]
        answer = {"error": {"description": error}} if error else {"stream": "S", "seq": index + 1}
        await self.publisher._acknowledged(cast(Msg, FakeAck(reply, json.dumps(answer).encode())))


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    nats, stored = FakeNats(), []
    pub = Publisher("rallypoint.test.node1", Counters())
    client = cast(Client, nats)
    await pub.attach(client)
    connected = asyncio.Event()
    connected.set()
    task = asyncio.create_task(pub.run(client, connected))
    try:
        yield Harness(pub, nats, stored)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_several_batches_are_in_flight_but_none_is_stored_before_its_acknowledgement(
    harness: Harness,
) -> None:
    messages = PUBLISH_BATCH * (MAX_BATCHES_IN_FLIGHT + 2)
    harness.put(messages)
    window = PUBLISH_BATCH * MAX_BATCHES_IN_FLIGHT
    await eventually(lambda: len(harness.nats.published) == window, what="a full window published")
    assert harness.publisher.in_flight == MAX_BATCHES_IN_FLIGHT  # bounded: no eleventh batch yet
    for index in range(PUBLISH_BATCH, 2 * PUBLISH_BATCH):  # the second batch first
        await harness.ack(index)
    assert harness.stored == []  # it waits for the first
    assert len(harness.publisher) == messages
    for index in range(PUBLISH_BATCH):
        await harness.ack(index)
    await eventually(lambda: len(harness.stored) == 2 * PUBLISH_BATCH, what="two batches stored")
    assert harness.stored == [str(n).encode() for n in range(2 * PUBLISH_BATCH)]  # in order
    await eventually(lambda: len(harness.nats.published) == messages, what="the window refilled")


async def test_a_message_queued_while_a_batch_is_in_flight_is_published_at_once(harness: Harness) -> None:
    harness.put(1)
    await eventually(lambda: len(harness.nats.published) == 1, what="the first published")
    harness.put(1, start=1)
    await eventually(lambda: len(harness.nats.published) == 2, what="the second published unacknowledged")
    assert harness.publisher.in_flight == 2
    await harness.ack(1)
    await harness.ack(0)
    await eventually(lambda: harness.stored == [b"0", b"1"], what="both stored in order")


async def test_a_refusal_publishes_the_window_again_from_the_first_unstored(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publisher, "RETRY_WAIT_S", 0.0)
    harness.put(3)
    await eventually(lambda: len(harness.nats.published) == 3, what="the first batch published")
    harness.put(2, start=3)
    await eventually(lambda: len(harness.nats.published) == 5, what="a second batch published")
    await harness.ack(0)
    await harness.ack(1, error="maximum message size exceeded")
    await eventually(lambda: len(harness.nats.published) == 9, what="the rest published again")
    assert harness.stored == [b"0"]  # only what JetStream acknowledged
    assert [payload for payload, _ in harness.nats.published[5:]] == [b"1", b"2", b"3", b"4"]
    for index in range(5, 9):
        await harness.ack(index)
    await eventually(lambda: len(harness.stored) == 5, what="all stored")
    assert harness.stored == [b"0", b"1", b"2", b"3", b"4"]
