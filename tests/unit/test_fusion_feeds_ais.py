"""AIS decoding on real sentences (pyais's documented examples) and multi-sentence reassembly."""

from pathlib import Path

import pytest
from pyais.encode import encode_dict  # loaded by the adapter's own `from pyais import` anyway

from rallypoint.fusion.feeds.ais import AisDecoder, report_time_ms, split_tag_block
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.decoded import Decoded
from rallypoint.fusion.report import Domain

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
NOW_MS = 1_712_345_679_000
STATIC_1 = "!AIVDM,2,1,4,A,55O0W7`00001L@gCWGA2uItLth@DqtL5@F22220j1h742t0Ht0000000,0*08"
STATIC_2 = "!AIVDM,2,2,4,A,000000000000000,2*20"
POSITION_OF_STATIC = "!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"
"""A position of another vessel (366053209) than the static message's (368060190)."""


def decoder(**options: int) -> AisDecoder:
    return AisDecoder(FeedConfig(name="ais-harbour", kind="ais_udp", port=10110, sigma_m=10.0), **options)


def run(ais: AisDecoder, lines: list[str], start_ms: int = NOW_MS, step_ms: int = 10) -> Decoded:
    reports, errors, ignored = [], [], []
    for number, line in enumerate(lines):
        result = ais.decode(line, start_ms + number * step_ms)
        reports += result.reports
        errors += result.errors
        ignored += result.ignored
    return Decoded(tuple(reports), tuple(errors), tuple(ignored))


def test_recorded_sentences() -> None:
    result = run(decoder(), (FEEDS / "ais.nmea").read_text().splitlines())
    identities = [r.identity for r in result.reports]
    assert "mmsi:227006760" in identities
    assert "mmsi:272016100" in identities  # class B (type 18)
    assert len(identities) == 8
    assert len(set(identities)) == 8
    assert result.ignored == ("static",)
    assert result.errors == ()
    first = result.reports[0]
    assert (first.lat, first.lon, first.course) == (37.802118, -122.341618, 219.3)
    assert first.domain is Domain.SEA
    assert first.sigma_m == 20.0  # accuracy flag clear: worse than 10 m
    class_b = result.reports[-1]
    assert class_b.speed == pytest.approx(11.5 * 1852 / 3600)


def test_malformed_sentences_are_counted_and_skipped() -> None:
    ais = decoder()
    result = run(ais, (FEEDS / "ais_malformed.nmea").read_text().splitlines())
    assert result.reports == ()
    assert sorted(result.errors) == [
        "bad_sentence",
        "bad_sentence",
        "checksum",
        "checksum",
        "not_ais",
        "not_ais",
    ]
    assert run(ais, [POSITION_OF_STATIC]).reports  # still decoding afterwards


def test_static_data_names_later_positions() -> None:
    ais = decoder()
    run(ais, [STATIC_1, STATIC_2])
    position = ais.decode(_position_of(368060190), NOW_MS)
    (report,) = position.reports
    assert report.callsign == "P/V_GOLDEN_GATE"
    assert report.attributes["radio_callsign"] == "WDK4954"
    assert report.attributes["ship_type"] == "PilotVessel"


def test_fragments_out_of_order_and_interleaved() -> None:
    ais = decoder()
    result = run(ais, [STATIC_2, POSITION_OF_STATIC, STATIC_1])
    assert result.ignored == ("static",)
    assert [r.identity for r in result.reports] == ["mmsi:366053209"]
    assert ais.pending == 0


def test_interleaved_messages_with_different_sequence_ids() -> None:
    other_1, other_2 = STATIC_1.replace(",4,A,", ",5,A,"), STATIC_2.replace(",4,A,", ",5,A,")
    other_1, other_2 = _fix_checksum(other_1), _fix_checksum(other_2)
    result = run(decoder(), [STATIC_1, other_1, other_2, STATIC_2])
    assert result.ignored == ("static", "static")
    assert result.errors == ()


def test_incomplete_message_times_out() -> None:
    ais = decoder(timeout_ms=5_000)
    ais.decode(STATIC_1, NOW_MS)
    assert ais.pending == 1
    late = ais.decode(STATIC_2, NOW_MS + 6_000)
    assert late.errors == ("incomplete",)  # the first half expired; the second alone waits
    assert ais.pending == 1
    assert ais.expire(NOW_MS + 20_000).errors == ("incomplete",)
    assert ais.pending == 0


def test_reused_sequence_id_drops_the_incomplete_message() -> None:
    ais = decoder()
    result = run(ais, [STATIC_1, STATIC_1, STATIC_2])
    assert result.errors == ("incomplete",)
    assert result.ignored == ("static",)


def test_reassembly_buffer_is_bounded() -> None:
    ais = decoder(max_pending=2)
    firsts = [_fix_checksum(STATIC_1.replace(",4,A,", f",{n},A,")) for n in (1, 2, 3)]
    result = run(ais, firsts)
    assert result.errors == ("reassembly_overflow",)
    assert ais.pending == 2


def test_tag_block_time_and_second_field() -> None:
    sentence, time_ms = split_tag_block(f"\\s:2573345,c:1712345600*0B\\{POSITION_OF_STATIC}")
    assert sentence == POSITION_OF_STATIC
    assert time_ms == 1_712_345_600_000
    (report,) = decoder().decode(f"\\c:1712345600*0B\\{POSITION_OF_STATIC}", NOW_MS).reports
    assert report.time_ms == report_time_ms(1_712_345_600_000, 59)
    assert report_time_ms(120_500, 59) == 119_000  # second 59 of the previous minute
    assert report_time_ms(120_500, 0) == 120_000
    assert report_time_ms(120_500, 60) == 120_500  # not available


def _position_of(mmsi: int) -> str:
    (sentence,) = encode_dict(
        {"type": 1, "mmsi": mmsi, "lat": 37.8, "lon": -122.4, "speed": 5.0, "course": 90.0, "accuracy": 1}
    )
    return str(sentence)


def _fix_checksum(sentence: str) -> str:
    body = sentence[1 : sentence.rindex("*")]
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    return f"!{body}*{checksum:02X}"
