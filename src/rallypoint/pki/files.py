"""Small file primitives the PKI needs: atomic replacement with a chosen mode, and a lock file.

Keys must never exist on disk with looser permissions, not even for a moment, and a reader
(the TLS server reloading ``crl.pem``) must never see half a file. So every write goes to a
temporary file created with its final mode, is flushed to disk, and is renamed over the target.
"""

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from rallypoint.errors import PkiError

PRIVATE = 0o600
"""Mode of private keys, keystores and packages (they hold key material)."""
PUBLIC = 0o644
"""Mode of certificates and CRLs."""


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` by ``data``; readers see the old or the new file, never a mixture."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise PkiError(f"cannot write {path}: {exc.strerror or exc}") from exc


def make_private_directory(path: Path) -> None:
    """Create ``path`` (and parents) if missing; the directory itself is readable by its owner only."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise PkiError(f"cannot create {path}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an advisory lock on ``path`` so that two processes (``serve`` and a first CLI command)
    never create two different certificate authorities at the same moment."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE)
    except OSError as exc:
        raise PkiError(f"cannot open lock file {path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
