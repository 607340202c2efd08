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
    assert box.take() == b"[chat][A2][B1]"  # must-deliver first, positions in their order


def test_full_queue_drops_oldest_position_of_another_uid() -> None:
    box = Outbox(max_messages=3, max_bytes=1000)
    box.put(b"[A1]", "A")
    box.put(b"[chat]")
    box.put(b"[B1]", "B")
    assert box.put(b"[marker]") is PutResult.DROPPED_OLDER
    assert box.take() == b"[chat][marker][B1]"


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


def test_positions_are_coalesced_per_uid_even_when_the_queue_has_room() -> None:
    box = Outbox(max_messages=100, max_bytes=10_000)
    box.put(b"[A1]", "A")
    box.put(b"[B1]", "B")
    assert box.put(b"[A2]", "A") is PutResult.REPLACED
    assert box.put(b"[A3]", "A") is PutResult.REPLACED
    assert box.queued_messages == 2
    assert box.take() == b"[A3][B1]"


def test_emergencies_first_then_directed_then_positions() -> None:
    box = Outbox(max_messages=100, max_bytes=10_000)
    box.put(b"[A1]", "A")
    box.put(b"[chat1]")
    box.put(b"[911]", "ALERT", urgent=True)
    box.put(b"[chat2]")
    assert box.take() == b"[911][chat1][chat2][A1]"


def test_a_full_queue_of_positions_never_refuses_a_directed_message() -> None:
    box = Outbox(max_messages=3, max_bytes=10_000)
    for uid in "ABC":
        box.put(f"[{uid}]".encode(), uid)
    assert box.put(b"[chat1]") is PutResult.DROPPED_OLDER
    assert box.put(b"[chat2]") is PutResult.DROPPED_OLDER
    assert box.put(b"[chat3]") is PutResult.DROPPED_OLDER
    assert box.put(b"[D]", "D") is PutResult.OVERFLOW
    assert box.take() == b"[chat1][chat2][chat3]"
