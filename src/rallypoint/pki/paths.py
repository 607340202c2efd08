"""Where the PKI and identity files live inside the data directory.

One place names every file, so the server, the enrollment API and the admin commands agree
without passing paths around.
"""

from pathlib import Path
from typing import NamedTuple


class PkiPaths(NamedTuple):
    """The certificate authority's files (keys are written with mode 0600)."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    crl: Path


def pki_paths(data_dir: Path) -> PkiPaths:
    """``data_dir/pki/{ca.pem, ca.key, server.pem, server.key, crl.pem}``."""
    directory = data_dir / "pki"
    return PkiPaths(
        directory=directory,
        ca_cert=directory / "ca.pem",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        crl=directory / "crl.pem",
    )


def identity_path(data_dir: Path) -> Path:
    """The SQLite file of users, groups and issued certificates."""
    return data_dir / "identity.sqlite3"


def audit_path(data_dir: Path) -> Path:
    """The hash-chained, append-only audit log."""
    return data_dir / "audit.log"
