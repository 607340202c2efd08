"""The per-client write queue and its overflow policy."""

from rallypoint.transport.outbox import Outbox, PutResult


def test_queues_in_order_until_full() -> None:
    box = Outbox(max_messages=3, max_bytes=1000)
    assert [box.put(b"a"), box.put(b"b"), box.put(b"c")] == [PutResult.QUEUED] * 3
    assert box.take() == b"abc"
    assert not box


def test_full_queue_replaces_same_uid_position_in_place() -> None:
    box = Outbox(max_messages=3, max_bytes=1000)
    box.put(b"[A1]", "A")
    box.put(b"[chat]")
    box.put(b"[B1]", "B")
    assert box.put(b"[A2]", "A") is PutResult.REPLACED
    assert box.take() == b"[A2][chat][B1]"


def test_full_queue_drops_oldest_position_of_another_uid() -> None:
    box = Outbox(max_messages=3, max_bytes=1000)
    box.put(b"[A1]", "A")
    box.put(b"[chat]")
    box.put(b"[B1]", "B")
    assert box.put(b"[marker]") is PutResult.DROPPED_OLDER
    assert box.take() == b"[chat][B1][marker]"


def test_overflow_when_nothing_may_be_dropped() -> None:
    box = Outbox(max_messages=2, max_bytes=1000)
    box.put(b"[chat1]")
    box.put(b"[chat2]")
    assert box.put(b"[chat3]") is PutResult.OVERFLOW
    assert box.take() == b"[chat1][chat2]"


def test_byte_limit() -> None:
    box = Outbox(max_messages=100, max_bytes=10)
    assert box.put(b"12345", "A") is PutResult.QUEUED
    assert box.put(b"123456") is PutResult.DROPPED_OLDER
    assert box.queued_bytes == 6
    assert box.put(b"12345") is PutResult.OVERFLOW
