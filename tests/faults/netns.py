"""The fixture of the namespace tests: a fresh namespace and link per test (see
:mod:`rallypoint.bench.netns`), skipped where namespaces cannot be made (not root, no iproute2)."""

import subprocess
from collections.abc import Iterator

import pytest

from rallypoint.bench.netns import Namespace, NamespaceError, namespaces_unavailable

__all__ = ["Namespace", "namespace"]


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    """A fresh namespace and link for one test (skipped where namespaces cannot be made)."""
    reason = namespaces_unavailable()
    if reason is not None:
        pytest.skip(reason)
    created = Namespace()
    try:
        created.create()
    except (subprocess.CalledProcessError, OSError, NamespaceError) as exc:
        created.destroy()
        pytest.skip(f"cannot create a network namespace: {exc}")
    try:
        yield created
    finally:
        created.destroy()
