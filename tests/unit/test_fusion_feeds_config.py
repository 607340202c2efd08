"""The feeds file: [[feeds]] tables and [fusion] options, checked strictly."""

from pathlib import Path

import pytest

from rallypoint.config import Settings, load_settings
from rallypoint.errors import ConfigError
from rallypoint.fusion.feeds.config import load_fusion_file, parse_fusion_config

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
    import tomllib

    with pytest.raises(ConfigError, match=message):
        parse_fusion_config(tomllib.loads(feeds))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_fusion_file(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[feeds]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_fusion_file(broken)
