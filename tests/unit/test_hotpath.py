"""The hot-path selector: which implementation runs, switching, and the native twin's argument checks."""

from collections.abc import Iterator

import pytest

from rallypoint.cot import hotpath
from rallypoint.cot.detail import CAPTURED_TAGS
from rallypoint.errors import MalformedXml

needs_native = pytest.mark.skipif(hotpath.NATIVE not in hotpath.AVAILABLE, reason="native twin not built")


@pytest.fixture
def restore() -> Iterator[None]:
    previous = hotpath.IMPLEMENTATION
    yield
    hotpath.use(previous)


def test_an_unknown_implementation_is_refused(restore: None) -> None:
    with pytest.raises(ValueError, match="not available"):
        hotpath.use("cython")


def test_python_is_always_available_and_described(restore: None) -> None:
    hotpath.use(hotpath.PYTHON)
    assert hotpath.IMPLEMENTATION == hotpath.PYTHON
    assert hotpath.describe().startswith("pure Python")
    with pytest.raises(MalformedXml, match="mismatched tag"):
        hotpath.check_well_formed(b"<a></b>")


@needs_native
def test_native_is_preferred_when_built_and_says_which_expat(restore: None) -> None:
    assert hotpath.AVAILABLE[-1] == hotpath.NATIVE  # what the selector starts with
    hotpath.use(hotpath.NATIVE)
    assert hotpath.describe().startswith("native (C, expat_")


@needs_native
def test_native_twin_checks_its_arguments() -> None:
    from rallypoint.cot import _native

    with pytest.raises(TypeError):
        _native.scan("<event/>", False, 8, CAPTURED_TAGS, frozenset())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="out of range"):
        _native.xml_end(b"<event></event>", 99, b"", b"</event", 32)
    with pytest.raises(ValueError, match="out of range"):
        _native.xml_end(b"<event></event>", -1, b"", b"</event", 32)
    assert _native.xml_end(bytearray(b"<event></event>"), 0, b"", b"</event", 32) == (15, b"", 0)
    with pytest.raises(TypeError):
        _native.event_numbers([("time", "x")], {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _native.event_numbers({})  # type: ignore[call-arg]


def test_the_python_hot_path_leaves_every_number_to_the_codec(restore: None) -> None:
    hotpath.use(hotpath.PYTHON)
    assert (
        hotpath.event_numbers({"time": "2024-05-01T12:00:00Z", "stale": "2024-05-01T12:00:00Z"}, {}) is None
    )


@needs_native
def test_native_scan_refuses_nesting_past_the_limit(restore: None) -> None:
    hotpath.use(hotpath.NATIVE)
    with pytest.raises(MalformedXml, match="deeper than 3"):
        hotpath.scan(b"<a><b><c><d/></c></b></a>", detail_root=False, max_depth=3, capture=CAPTURED_TAGS)
