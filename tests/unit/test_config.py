"""Settings: defaults, file, environment, and clear errors."""

from pathlib import Path

import pytest

from rallypoint.config import Settings, load_settings
from rallypoint.errors import ConfigError
from rallypoint.router.mail_limits import MailLimits
from rallypoint.transport.context import ServerContext


def test_defaults_are_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert (settings.tcp_port, settings.udp_port) == (8087, 8087)


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "rp.toml"
    path.write_text('[rallypoint]\ntcp_port = 9000\nhost = "0.0.0.0"\nisolate_teams = true\n')
    settings = load_settings(path, environ={"RALLYPOINT_TCP_PORT": "9100", "RALLYPOINT_UDP_PORT": "off"})
    assert (settings.tcp_port, settings.host, settings.isolate_teams) == (9100, "0.0.0.0", True)
    assert settings.udp_port is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("tcp_port = 'abc'", "tcp_port"), ("nonsense = 1", "unknown"), ("tcp_port = ", "TOML")],
)
def test_bad_files_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rp.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, environ={})


def test_bad_environment_value() -> None:
    with pytest.raises(ConfigError, match="isolate_teams"):
        load_settings(
            Path("/nonexistent-is-not-read") if False else None, environ={"RALLYPOINT_ISOLATE_TEAMS": "maybe"}
        )


def test_mailbox_limits_come_from_the_settings() -> None:
    settings = load_settings(
        environ={
            "RALLYPOINT_MAIL_MAX_PER_RECIPIENT": "7",
            "RALLYPOINT_MAIL_MAX_BYTES_PER_RECIPIENT": "4096",
            "RALLYPOINT_MAIL_MAX_AGE_S": "60",
        }
    )
    limits = ServerContext.from_settings(settings).mailbox.mail_limits
    assert (limits.max_count, limits.max_bytes, limits.max_age_ms) == (7, 4096, 60_000)
    assert MailLimits() == MailLimits(
        Settings.mail_max_per_recipient, Settings.mail_max_bytes_per_recipient, Settings.mail_max_age_s
    )
