"""Feed decoders on real recorded samples (tests/fixtures/feeds), and on broken input."""

import json
from pathlib import Path

import pytest

from rallypoint.fusion.engine import FusionEngine
from rallypoint.fusion.feeds.adsb import AircraftJsonDecoder, SbsDecoder, identity_of, nacp_sigma
from rallypoint.fusion.feeds.aprs import AprsDecoder, login_line
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.cot import CotDecoder, track_of
from rallypoint.fusion.feeds.decoded import Decoded
from rallypoint.fusion.feeds.geojson import GeoJsonDecoder
from rallypoint.fusion.feeds.lines import LineSplitter
from rallypoint.fusion.feeds.modes import AvrDecoder, frame_hex
from rallypoint.fusion.report import Domain

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
NOW_MS = 1_712_345_679_000


def lines(name: str) -> list[str]:
    return (FEEDS / name).read_text().splitlines()


def decode_all(decoder: SbsDecoder | AvrDecoder | AprsDecoder, name: str) -> Decoded:
    reports, errors, ignored = [], [], []
    for number, line in enumerate(lines(name)):
        result = decoder.decode(line, NOW_MS + number)
        reports += result.reports
        errors += result.errors
        ignored += result.ignored
    return Decoded(tuple(reports), tuple(errors), tuple(ignored))


def feed(kind: str, **options: object) -> FeedConfig:
    return FeedConfig(name=f"test-{kind}", kind=kind, sigma_m=25.0, **options)  # type: ignore[arg-type]


def test_aircraft_json_reports_fresh_positions_once() -> None:
    decoder = AircraftJsonDecoder(feed("adsb_json"))
    data = (FEEDS / "aircraft.json").read_bytes()
    first = decoder.decode(data, NOW_MS)
    assert [r.identity for r in first.reports] == ["icao:3c6444", "icao:4b1803", "adsb:2a1b3c"]
    lufthansa = first.reports[0]
    assert lufthansa.callsign == "DLH9LF"
    assert lufthansa.time_ms == 1_712_345_678_900 - 400
    assert lufthansa.hae == pytest.approx(37425 * 0.3048)
    assert lufthansa.speed == pytest.approx(451.2 * 1852 / 3600)
    assert lufthansa.course == pytest.approx(273.51)
    assert lufthansa.sigma_m == 25.0  # NACp 9 (30 m, 95 %) is better than the feed's floor
    assert first.reports[1].sigma_m == pytest.approx(92.6 / 2.45)  # NACp 8 widens it
    assert lufthansa.attributes["squawk"] == "1000"
    assert lufthansa.climb == 0.0  # baro_rate 0 ft/min
    assert lufthansa.domain is Domain.AIR
    assert sorted(first.ignored) == ["no_position", "old_position"]
    assert first.errors == ()
    again = decoder.decode(data, NOW_MS + 1000)
    assert again.reports == ()  # the same snapshot holds no news


def _snapshot(now: float, seen_pos: float, lat: float = 51.0) -> bytes:
    entry = {"hex": "3c6444", "lat": lat, "lon": 7.0, "seen_pos": seen_pos}
    return json.dumps({"now": now, "aircraft": [entry]}).encode()


def test_aircraft_json_vertical_rate_prefers_geometric() -> None:
    entry = {"hex": "3c6444", "lat": 51.0, "lon": 7.0, "seen_pos": 0.0, "geom_rate": 1920, "baro_rate": 1856}
    body = json.dumps({"now": 1_712_345_678.0, "aircraft": [entry]}).encode()
    (climbing,) = AircraftJsonDecoder(feed("adsb_json")).decode(body, NOW_MS).reports
    assert climbing.climb == pytest.approx(1920 * 0.3048 / 60)  # 9.75 m/s


def test_aircraft_json_one_fix_in_two_polls_is_reported_once() -> None:
    # 1.001 s times 1000 is 1000.9999999999999: truncated, the second poll's copy of the fix
    # came out 1 ms newer than the first and was fused a second time.
    decoder = AircraftJsonDecoder(feed("adsb_json"))
    first = decoder.decode(_snapshot(1_712_345_678.5, 0.501), NOW_MS)
    assert [r.time_ms for r in first.reports] == [1_712_345_677_999]
    assert decoder.decode(_snapshot(1_712_345_679.0, 1.001), NOW_MS + 500).reports == ()
    # readsb's 0.1 s resolution can shift one fix by up to 0.2 s: same place, same fix.
    assert decoder.decode(_snapshot(1_712_345_679.6, 1.5), NOW_MS + 1100).reports == ()
    moved = decoder.decode(_snapshot(1_712_345_680.0, 1.5, lat=51.001), NOW_MS + 1500)
    assert [(r.time_ms, r.lat) for r in moved.reports] == [(1_712_345_678_500, 51.001)]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "bad_json"),
        (b'{"now": 1, "aircraft": {}}', "no_aircraft_list"),
        (b"[]", "no_aircraft_list"),
    ],
)
def test_aircraft_json_rejects_broken_documents(body: bytes, reason: str) -> None:
    assert AircraftJsonDecoder(feed("adsb_json")).decode(body, NOW_MS).errors == (reason,)


def test_aircraft_json_skips_bad_entries_and_keeps_good_ones() -> None:
    good = {"hex": "3c6444", "lat": 51.0, "lon": 7.0, "seen_pos": 0.0}
    body = {
        "now": 1_712_345_678.0,
        "aircraft": [
            "not an object",
            {"hex": "zzzzzz", "lat": 1.0, "lon": 1.0},
            {"hex": "3c6445", "lat": 123.0, "lon": 1.0},
            {"hex": "3c6446", "lat": "north", "lon": 1.0},
            good,
        ],
    }
    result = AircraftJsonDecoder(feed("adsb_json")).decode(json.dumps(body).encode(), NOW_MS)
    assert [r.identity for r in result.reports] == ["icao:3c6444"]
    assert sorted(result.errors) == ["bad_aircraft", "bad_hex", "bad_position", "bad_position"]


def test_identity_and_nacp_helpers() -> None:
    assert identity_of("3C6444") == "icao:3c6444"
    assert identity_of("~2a1b3c") == "adsb:2a1b3c"
    assert identity_of("3c644") is None
    assert nacp_sigma(10.0, None) == 10.0
    assert nacp_sigma(10.0, 7) == pytest.approx(185.2 / 2.45)


def test_sbs1_merges_velocity_into_positions() -> None:
    result = decode_all(SbsDecoder(feed("sbs")), "sbs1.txt")
    assert [r.identity for r in result.reports] == ["icao:4ca2d6", "icao:4ca2d6"]
    first, second = result.reports
    assert (first.lat, first.lon) == (51.45735, -1.02826)
    assert first.hae == pytest.approx(37000 * 0.3048)
    assert first.speed is None  # its velocity message came after this position
    assert second.speed == pytest.approx(452.0 * 1852 / 3600)
    assert second.course == pytest.approx(271.0)
    assert second.attributes["squawk"] == "6135"
    assert result.errors == ()


def test_sbs1_vertical_rate_feeds_the_height_model() -> None:
    """MSG,4's VerticalRate (field 17, ft/min) reaches the report as ``climb``, in m/s."""
    decoder = SbsDecoder(feed("sbs"))
    velocity = "MSG,4,111,11111,4CA4E5,111111,2008/11/28,14:53:50.985,2008/11/28,14:53:51.540,,,420.0,90.5,,,-1344,,0,0,0,0"
    position = "MSG,3,111,11111,4CA4E5,111111,2008/11/28,14:53:51.200,2008/11/28,14:53:51.700,,24000,,,51.50000,-1.10000,,,0,0,0,0"
    assert decoder.decode(velocity, NOW_MS).reports == ()
    (report,) = decoder.decode(position, NOW_MS).reports
    assert report.climb == pytest.approx(-1344 * 0.3048 / 60.0)
    assert (report.speed, report.course) == (pytest.approx(420.0 * 1852 / 3600), pytest.approx(90.5))
    # the fixture: 4CA2D6's MSG,4 says 0 ft/min (level), so its second position carries 0, the first none
    first, second = decode_all(SbsDecoder(feed("sbs")), "sbs1.txt").reports
    assert (first.climb, second.climb) == (None, 0.0)


def test_sbs1_vertical_rate_lets_a_climb_be_followed() -> None:
    """Through the engine: a climb at 10 m/s from SBS lines is followed without trailing."""
    decoder, engine = SbsDecoder(feed("sbs")), FusionEngine()
    rate_fpm = 10.0 * 60.0 / 0.3048
    for second in range(20):
        now = NOW_MS + second * 1000
        altitude_ft = (3000.0 + 10.0 * second) / 0.3048
        decoder.decode(f"MSG,4,1,1,4CA4E5,1,,,,,,,250.0,0.0,,,{rate_fpm:.0f},,0,0,0,0", now)
        for r in decoder.decode(
            f"MSG,3,1,1,4CA4E5,1,,,,,,{altitude_ft:.0f},,,51.5,-1.1,,,0,0,0,0", now
        ).reports:
            engine.ingest(r, now)
    (track,) = engine.tracks()
    assert track.state.v_up == pytest.approx(10.0, abs=0.2)
    _, _, hae = track.position(NOW_MS + 21_000)
    assert hae == pytest.approx(3210.0, abs=3.0)


def test_sbs1_callsign_from_identification_message() -> None:
    decoder = SbsDecoder(feed("sbs"))
    decoder.decode(lines("sbs1.txt")[0], NOW_MS)
    position = "MSG,3,145,256,7404F2,11267,2008/11/28,23:48:19.000,2008/11/28,23:53:20.000,,12000,,,40.1,-3.5,,,0,0,0,0"
    (report,) = decoder.decode(position, NOW_MS).reports
    assert report.callsign == "RJA1118"


def test_sbs1_rejects_malformed_lines_without_stopping() -> None:
    decoder = SbsDecoder(feed("sbs"))
    result = decode_all(decoder, "sbs1_malformed.txt")
    assert sorted(result.errors) == [
        "bad_hex",
        "bad_position",
        "bad_position",
        "bad_sbs_line",
        "bad_sbs_line",
    ]
    assert len(decode_all(decoder, "sbs1.txt").reports) == 2


def test_avr_with_reference_decodes_positions_callsigns_and_velocity() -> None:
    decoder = AvrDecoder(feed("avr", reference=(52.25, 3.9)))
    result = decode_all(decoder, "avr.txt")
    assert [r.identity for r in result.reports] == ["icao:40621d", "icao:40621d", "icao:40621d"]
    assert result.reports[1].lat == pytest.approx(52.2572, abs=1e-4)
    assert result.reports[1].lon == pytest.approx(3.91937, abs=1e-4)
    assert result.reports[1].hae == pytest.approx(38000 * 0.3048)
    assert sorted(set(result.ignored)) == ["no_position", "short_frame"]
    velocity = AvrDecoder(feed("avr", reference=(52.25, 3.9)))
    velocity.decode("*8D485020994409940838175B284F;", NOW_MS)
    assert velocity._state.get("icao:485020") is not None


def test_avr_without_reference_pairs_frames() -> None:
    decoder = AvrDecoder(feed("avr"))
    decoder.decode("*8D4840D6202CC371C32CE0576098;", NOW_MS)
    result = decoder.decode("*8D40621D58C382D690C8AC2863A7;", NOW_MS)
    assert result.reports == ()  # one frame of a pair cannot place an aircraft without a reference


def test_avr_rejects_malformed_frames() -> None:
    result = decode_all(AvrDecoder(feed("avr", reference=(52.25, 3.9))), "avr_malformed.txt")
    assert sorted(result.errors) == ["bad_frame", "bad_frame", "bad_frame", "crc"]
    assert result.reports == ()
    assert frame_hex("@0000A1B2C3D48D40621D58C382D690C8AC2863A7;") == "8D40621D58C382D690C8AC2863A7"


def test_aprs_stations_objects_and_server_lines() -> None:
    result = decode_all(AprsDecoder(feed("aprs_is")), "aprs.txt")
    identities = [r.identity for r in result.reports]
    assert identities == ["aprs:FROMCALL", "aprs:M0XER-4", "aprs:N0CALL-9", "aprs:LEADER", "aprs:N0CALL-7"]
    station = result.reports[0]
    assert station.lat == pytest.approx(49.058333, abs=1e-5)
    assert station.lon == pytest.approx(-72.029167, abs=1e-5)
    assert station.hae == pytest.approx(1234 * 0.3048)
    mobile = result.reports[2]
    assert mobile.course == 88
    assert mobile.speed == pytest.approx(36 * 1852 / 3600)
    leader = result.reports[3]
    assert leader.callsign == "LEADER"
    assert leader.attributes["placed_by"] == "N0CALL"
    assert result.ignored == ("no_position",)
    assert result.errors == ()


def test_aprs_rejects_malformed_lines() -> None:
    result = decode_all(AprsDecoder(feed("aprs_is")), "aprs_malformed.txt")
    assert result.reports == ()
    assert len(result.errors) == 4


def test_aprs_login_is_receive_only() -> None:
    assert (
        login_line("N0CALL", "r/48/11/50") == b"user N0CALL pass -1 vers rallypoint 0.1 filter r/48/11/50\r\n"
    )


COT = (
    b'<event version="2.0" uid="GW-7" type="a-n-S-X" how="m-g" time="2024-04-05T19:34:38.000Z"'
    b' start="2024-04-05T19:34:38.000Z" stale="2024-04-05T19:39:38.000Z">'
    b'<point lat="49.47" lon="0.13" hae="9999999.0" ce="12.0" le="9999999.0"/>'
    b'<detail><track course="36.7" speed="4.5"/><contact callsign="PILOT-1"/></detail></event>'
)


def test_cot_gateway_event_becomes_a_report() -> None:
    (report,) = CotDecoder(feed("cot_udp")).decode(COT, NOW_MS).reports
    assert (report.identity, report.domain, report.callsign) == ("uid:GW-7", Domain.SEA, "PILOT-1")
    assert (report.course, report.speed, report.sigma_m, report.hae) == (36.7, 4.5, 12.0, None)
    assert report.time_ms == 1_712_345_678_000


def test_cot_gateway_skips_fused_tracks_and_rejects_bad_xml() -> None:
    decoder = CotDecoder(feed("cot_udp"))
    fused = COT.replace(b"<track", b'<__fusion version="1"/><track')
    assert decoder.decode(fused, NOW_MS).ignored == ("fused_track",)
    assert decoder.decode(b"<event", NOW_MS).errors == ("malformed_xml",)
    assert decoder.decode(COT.replace(b"a-n-S-X", b"b-t-f"), NOW_MS).ignored == ("not_an_atom",)
    assert track_of("<track speed='9999999.0' course='400'/>") == (None, None)


def test_geojson_feature_collection() -> None:
    body = (FEEDS / "features.geojson").read_bytes()
    result = GeoJsonDecoder(feed("geojson")).decode(body, NOW_MS)
    assert [r.identity for r in result.reports] == ["geojson:test-geojson/truck-12", "uid:Rescue-3"]
    truck, rescue = result.reports
    assert (truck.lat, truck.lon, truck.hae, truck.callsign) == (48.137, 11.575, 520.0, "Truck 12")
    assert (rescue.domain, rescue.speed, rescue.course, rescue.sigma_m) == (Domain.SEA, 3.2, 270.0, 8.0)
    assert sorted(result.errors) == ["bad_position", "no_id", "not_a_point"]


@pytest.mark.parametrize(
    ("body", "reason"), [(b"{", "bad_json"), (b"[1]", "not_geojson"), (b"{}", "not_geojson")]
)
def test_geojson_rejects_non_geojson(body: bytes, reason: str) -> None:
    assert GeoJsonDecoder(feed("geojson")).decode(body, NOW_MS).errors == (reason,)


def test_line_splitter_any_chunking_and_the_line_cap() -> None:
    data = (FEEDS / "sbs1.txt").read_bytes()
    whole = LineSplitter().feed(data)
    for size in (1, 2, 7, 64):
        splitter = LineSplitter()
        pieces = [data[i : i + size] for i in range(0, len(data), size)]
        assert [line for piece in pieces for line in splitter.feed(piece)] == whole
    capped = LineSplitter(max_line_bytes=8)
    assert capped.feed(b"short\r\n" + b"x" * 5) == ["short"]
    assert capped.feed(b"y" * 10 + b"\nok\n") == ["ok"]
    assert capped.feed(b"z" * 20 + b"\n") == []
    assert capped.too_long == 2
