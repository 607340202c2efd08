"""Journal notices: the bus envelope that carries them, and who is woken by one."""

import pytest

from rallypoint.cluster.envelope import KIND_JOURNAL, decode, encode_headers
from rallypoint.errors import ClusterError
from rallypoint.router.notices import JournalNotices
from rallypoint.router.remote import RemoteSender

SENDER = RemoteSender("node1", 0, None, None, None, None, frozenset(), frozenset())


def test_a_journal_notice_round_trips_with_its_topic() -> None:
    headers = encode_headers("node1.ab.7", SENDER, departed=False, kind=KIND_JOURNAL, topic="mission:")
    envelope = decode(headers, b"")
    assert (envelope.kind, envelope.topic, envelope.sender.node, envelope.msg_id) == (
        KIND_JOURNAL,
        "mission:",
        "node1",
        "node1.ab.7",
    )


def test_a_journal_notice_without_a_topic_is_refused() -> None:
    headers = encode_headers("node1.ab.8", SENDER, departed=False, kind=KIND_JOURNAL)
    with pytest.raises(ClusterError, match="topic"):
        decode(headers, b"")


async def test_notices_wake_only_the_listeners_of_their_prefix_and_relay_only_when_shared() -> None:
    notices = JournalNotices()
    woken: list[str] = []

    async def missions() -> None:
        woken.append("missions")

    async def identities() -> None:
        woken.append("identities")

    undo = notices.subscribe("mission:", missions)
    notices.subscribe("identity:", identities)
    notices.changed("mission:")  # embedded: nowhere to send it
    assert not notices.shared
    relayed: list[str] = []
    notices.relay = relayed.append
    notices.changed("mission:")
    await notices.received("mission:")
    undo()
    await notices.received("mission:")
    assert notices.shared
    assert relayed == ["mission:"]
    assert woken == ["missions"]
