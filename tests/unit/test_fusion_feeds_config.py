"""The feeds file: [[feeds]] tables and [fusion] options, checked strictly."""

import tomllib
from pathlib import Path

import pytest

from rallypoint.config import Settings, load_settings
from rallypoint.errors import ConfigError
from rallypoint.fusion.engine import FusionEngine
from rallypoint.fusion.feeds.config import load_fusion_file, parse_fusion_config
from rallypoint.fusion.imm import InteractingMultipleModel
from rallypoint.fusion.kinematics import ConstantVelocity
from rallypoint.fusion.report import Domain
from rallypoint.fusion.tuning import DEFAULT_MODELS, Motion

EXAMPLE = """
[rallypoint]
tcp_port = 8087
feeds_file = "SELF"

[fusion]
stale_s = 30

[fusion.aliases]
"mmsi:227006760" = "uid:Rescue-3"

[[feeds]]
name = "adsb-north"
kind = "adsb_json"
url = "http://127.0.0.1:8080/data/aircraft.json"
groups = ["Cyan", "Red"]
affiliation = "n"

[[feeds]]
name = "radar"
kind = "avr"
port = 30002
reference = [52.25, 3.9]
"""


def test_the_settings_file_can_hold_the_feeds(tmp_path: Path) -> None:
    path = tmp_path / "rallypoint.toml"
    path.write_text(EXAMPLE.replace("SELF", str(path)))
    settings = load_settings(path, environ={})
    assert settings.feeds_file == str(path)
    config = load_fusion_file(Path(settings.feeds_file))
    north, radar = config.feeds
    assert north.groups == frozenset({"Cyan", "Red"})
    assert (north.affiliation, north.sigma_m, north.interval_s) == ("n", 30.0, 1.0)
    assert (radar.reference, radar.port, radar.groups) == ((52.25, 3.9), 30002, frozenset({"__ANON__"}))
    assert config.aliases == {"mmsi:227006760": "uid:Rescue-3"}
    assert config.stale_s == 30.0
    assert config.feed("radar") is radar
    with pytest.raises(ConfigError, match="no feed named 'nope'"):
        config.feed("nope")
    assert Settings().feeds_file == ""


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ('[[feeds]]\nname = "a"\nkind = "nmea2000"', "kind 'nmea2000'"),
        ('[[feeds]]\nname = "a b"\nkind = "sbs"\nport = 1', "must be non-empty"),
        ('[[feeds]]\nname = "a"\nkind = "sbs"', "needs a port"),
        ('[[feeds]]\nname = "a"\nkind = "adsb_json"\nurl = "file:///x"', "http"),
        ('[[feeds]]\nname = "a"\nkind = "sbs"\nport = 1\naffiliation = "q"', "affiliation"),
        ('[[feeds]]\nname = "a"\nkind = "sbs"\nport = 1\nsigma = 3', "unknown key"),
        ('[[feeds]]\nname = "a"\nkind = "sbs"\nport = "x"', "feed a"),
        ('[[feeds]]\nname = "a"\nkind = "geojson"\n[[feeds]]\nname = "a"\nkind = "geojson"', "unique"),
        ('feeds = "sbs"', "array of tables"),
        ("fusion = 3", "must be a table"),
    ],
)
def test_bad_feed_tables_are_refused(feeds: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_fusion_config(tomllib.loads(feeds))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_fusion_file(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[feeds]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_fusion_file(broken)


TUNED = """
[fusion]
gate = 9.21
confirm_hits = 2
tentative_delete_after_s = 20

[fusion.aliases]
"mmsi:227006760" = "uid:Rescue-3"

[fusion.air]
process_noise = 10.0
delete_after_s = 15
coast_after_s = 5
max_turn_rate_dps = 0

[fusion.sea]
process_noise = 0.03
delete_after_s = 60

[fusion.ground]
process_noise = 3
delete_after_s = 150
turn_noise = 0
"""


def test_the_fusion_table_tunes_each_domain() -> None:
    config = parse_fusion_config(tomllib.loads(TUNED)).engine_config()
    air, sea, ground = (config.models[d] for d in (Domain.AIR, Domain.SEA, Domain.GROUND))
    assert (air.q, air.silence_ms, air.coast_ms, air.max_turn_rate_dps) == (10.0, 15_000, 5_000, 0.0)
    assert (sea.q, sea.silence_ms, sea.coast_ms) == (0.03, 60_000, 60_000)  # coasting ≤ deletion
    assert (ground.q, ground.silence_ms, ground.q_turn) == (3.0, 150_000, 0.0)
    # what the file does not name keeps its default
    assert air.max_speed == DEFAULT_MODELS[Domain.AIR].max_speed
    assert (config.gate, config.confirm_hits, config.tentative_silence_ms) == (9.21, 2, 20_000)
    assert config.aliases == {"mmsi:227006760": "uid:Rescue-3"}
    # a running engine takes the file's tuning
    assert FusionEngine(config).config.models[Domain.SEA].q == 0.03


def test_the_motion_model_is_chosen_per_domain() -> None:
    table = tomllib.loads(
        "[fusion.air]\nmotion = 'imm'\nimm_turn_rate_dps = 2.5\nimm_turn_s = 20\n[fusion.ground]\nmotion = 'cv'"
    )
    config = parse_fusion_config(table).engine_config()
    air, ground = config.models[Domain.AIR], config.models[Domain.GROUND]
    assert (air.motion, air.imm_turn_dps, air.imm_turn_s) == (Motion.IMM, 2.5, 20.0)
    assert air.imm_straight_q == DEFAULT_MODELS[Domain.AIR].imm_straight_q
    assert ground.motion is Motion.CV
    engine = FusionEngine(config)
    assert isinstance(engine._filtering._predictors[Domain.AIR], InteractingMultipleModel)
    assert isinstance(engine._filtering._predictors[Domain.GROUND], ConstantVelocity)


def test_an_empty_fusion_table_gives_the_defaults() -> None:
    config = parse_fusion_config({}).engine_config()
    assert dict(config.models) == dict(DEFAULT_MODELS)
    assert DEFAULT_MODELS[Domain.AIR].q == 10.0  # the tuned default (3 trailed 3°/s turns)


@pytest.mark.parametrize(
    ("fusion", "message"),
    [
        ("[fusion]\ngaet = 3", r"unknown key\(s\) gaet"),
        ("[fusion]\ngate = -1", r"gate = -1: a finite number greater than 0"),
        ("[fusion]\nconfirm_hits = 0", r"confirm_hits = 0: an integer in 1\.\.32"),
        ("[fusion]\nconfirm_hits = 2.5", r"confirm_hits = 2.5"),
        ("[fusion.air]\nprocess_noise = 'high'", r"\[fusion.air\] process_noise = 'high'"),
        ("[fusion.air]\nprocess_noise = nan", r"process_noise = nan"),
        ("[fusion.sea]\nq = 1", r"\[fusion.sea\]: unknown key\(s\) q \(allowed: process_noise"),
        ("[fusion.ground]\ndelete_after_s = 600000000", r"at most 604800 s"),
        (
            "[fusion.air]\ndelete_after_s = 10\ncoast_after_s = 15",
            r"coast_after_s \(15\) must not exceed delete_after_s \(10\)",
        ),
        ("[fusion]\nair = 3", r"\[fusion.air\] must be a table"),
        ("[fusion.sea]\nmax_turn_rate_dps = -1", r"max_turn_rate_dps = -1: a number in 0\.\.30"),
        ("[fusion.ground]\nturn_noise = 2", r"turn_noise = 2: a number in 0\.\.1"),
        ("[fusion.air]\nmotion = 'ct'", r"motion = 'ct': \"cv\" or \"imm\""),
        ("[fusion.air]\nimm_turn_noise = 0", r"imm_turn_noise = 0: a finite number greater than 0"),
        ("[fusion.air]\nimm_turn_rate_dps = 45", r"imm_turn_rate_dps = 45: at most 30"),
    ],
)
def test_bad_tuning_is_refused_clearly(fusion: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_fusion_config(tomllib.loads(fusion))
