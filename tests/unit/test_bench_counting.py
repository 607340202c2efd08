"""The bench's message counters: exact counts whatever the read boundaries."""

from itertools import pairwise

import pytest

from rallypoint.bench.counting import EVENT_END, FENCE_MARKER, FrameCounter, MarkerCounter, last_stamp
from rallypoint.bench.messages import stamped_pli
from rallypoint.cot.framing import encode_stream_frame
from rallypoint.cot.negotiation import WireFormat
from rallypoint.errors import MalformedFrame

XML_STREAM = b"".join(
    stamped_pli(f"bench-{i}", f"B{i}", 1_700_000_000_000, WireFormat.XML).render(i) for i in range(3)
)
FRAME_STREAM = b"".join(
    [
        encode_stream_frame(b""),
        encode_stream_frame(b"x" * 5),
        encode_stream_frame(b"y" * 200),  # two-byte length varint
        encode_stream_frame(b"z" * 20_000),  # three-byte length varint
        stamped_pli("bench-p", "BP", 1_700_000_000_000, WireFormat.PROTOBUF).render(7),
    ]
)


def feed_in_pieces(counter: MarkerCounter | FrameCounter, data: bytes, cuts: list[int]) -> int:
    bounds = [0, *cuts, len(data)]
    return sum(counter.feed(data[a:b]) for a, b in pairwise(bounds))


def test_xml_counter_counts_whole_stream() -> None:
    assert MarkerCounter(EVENT_END).feed(XML_STREAM) == 3


def test_xml_counter_split_at_every_position() -> None:
    for cut in range(len(XML_STREAM) + 1):
        assert feed_in_pieces(MarkerCounter(EVENT_END), XML_STREAM, [cut]) == 3, cut


def test_xml_counter_split_twice_around_every_marker() -> None:
    ends = [i for i in range(len(XML_STREAM)) if XML_STREAM.startswith(b"</event>", i)]
    for end in ends:
        for first in range(end - 2, end + 9):
            for second in range(first, end + 10):
                assert feed_in_pieces(MarkerCounter(EVENT_END), XML_STREAM, [first, second]) == 3


def test_xml_counter_byte_at_a_time() -> None:
    assert feed_in_pieces(MarkerCounter(EVENT_END), XML_STREAM, list(range(1, len(XML_STREAM)))) == 3


def test_xml_counter_reports_each_event_when_it_completes() -> None:
    counter = MarkerCounter(EVENT_END)
    first_end = XML_STREAM.index(b"</event>") + len(b"</event>")
    assert counter.feed(XML_STREAM[: first_end - 1]) == 0
    assert counter.feed(XML_STREAM[first_end - 1 : first_end]) == 1


def test_fence_marker_split_at_every_position() -> None:
    stream = b"<remarks>" + FENCE_MARKER + b"</remarks>rpbench-fen" + FENCE_MARKER
    for cut in range(len(stream) + 1):
        assert feed_in_pieces(MarkerCounter(FENCE_MARKER), stream, [cut]) == 2, cut
    assert feed_in_pieces(MarkerCounter(FENCE_MARKER), stream, list(range(1, len(stream)))) == 2


def test_frame_counter_counts_whole_stream() -> None:
    assert FrameCounter().feed(FRAME_STREAM) == 5


def test_frame_counter_split_at_every_position() -> None:
    for cut in range(len(FRAME_STREAM) + 1):
        assert feed_in_pieces(FrameCounter(), FRAME_STREAM, [cut]) == 5, cut


def test_frame_counter_split_twice_near_every_position() -> None:
    small = encode_stream_frame(b"") + encode_stream_frame(b"a" * 3) + encode_stream_frame(b"b" * 130)
    for first in range(len(small) + 1):
        for second in range(first, min(first + 6, len(small)) + 1):
            assert feed_in_pieces(FrameCounter(), small, [first, second]) == 3


def test_frame_counter_byte_at_a_time() -> None:
    assert feed_in_pieces(FrameCounter(), FRAME_STREAM, list(range(1, len(FRAME_STREAM)))) == 5


def test_frame_counter_counts_a_frame_when_its_last_byte_arrives() -> None:
    frame = encode_stream_frame(b"abc")
    counter = FrameCounter()
    assert counter.feed(frame[:-1]) == 0
    assert counter.feed(frame[-1:]) == 1


def test_frame_counter_refuses_a_stream_without_magic() -> None:
    with pytest.raises(MalformedFrame):
        FrameCounter().feed(b"<event/>")


def test_frame_counter_refuses_an_endless_varint() -> None:
    with pytest.raises(MalformedFrame):
        FrameCounter().feed(b"\xbf" + b"\xff" * 11)


def test_last_stamp_reads_the_last_complete_stamp() -> None:
    assert last_stamp(XML_STREAM) == 2
    assert last_stamp(FRAME_STREAM) == 7


def test_last_stamp_falls_back_when_the_last_is_cut() -> None:
    cut = XML_STREAM.rindex(b"rpbench:") + 12
    assert last_stamp(XML_STREAM[:cut]) == 1


def test_last_stamp_without_a_stamp() -> None:
    assert last_stamp(b"<event/>") is None
    assert last_stamp(b"rpbench:12345") is None
    assert last_stamp(b"rpbench:" + b"x" * 20) is None
