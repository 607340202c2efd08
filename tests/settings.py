"""The settings of a test server: every listener off but plain TCP unless a test turns it on.

Each test names only the listeners it uses, on port 0 (a free port) or ``None``; the defaults
(8080, 8443, …) would collide between tests running side by side.
"""

from pathlib import Path
from typing import Any

from rallypoint.config import Settings

LISTENERS_OFF: dict[str, Any] = {
    "udp_port": None,
    "tls_port": None,
    "enrollment_port": None,
    "api_tls_port": None,
    "api_plain_port": None,
    "web_port": None,
}


def listening(tmp_path: Path, **overrides: Any) -> Settings:
    """Data under ``tmp_path``, plain TCP on a free port, the rest off unless ``overrides`` say."""
    return Settings(data_dir=tmp_path / "data", tcp_port=0, **(LISTENERS_OFF | overrides))
