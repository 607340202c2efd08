"""Which implementation of the hot path runs: the native twin when it was built, else Python.

The XML scan (:mod:`rallypoint.cot.xmlscan`), the stream splitter's end-of-message search and
the event-tag count of the frame-safety check (:mod:`rallypoint.cot.markup`) each have a C twin
in ``_native.c``, built by ``setup.py`` when a compiler and the libexpat and Python headers are
present. Both give identical results (the same expat does the parsing; tests run the codec
suites against both and compare them on hostile input), so the choice changes only speed.
``rallypoint serve`` logs :data:`IMPLEMENTATION`.

:func:`event_numbers` is a shortcut rather than a twin: the native one (``_numbers.c``) reads an
event's times and point when they are written in the canonical form, and says ``None`` for
anything else; the Python one always says ``None``, and the codec's general path reads them.

Callers go through this module's functions (``hotpath.scan(...)``), which :func:`use` rebinds.
"""

from collections.abc import Callable

from rallypoint.cot import markup, xmlscan
from rallypoint.cot.xmlscan import TEXT_TAGS, Node, Scan, ScanResult
from rallypoint.errors import MalformedXml

try:
    from rallypoint.cot import _native
except ImportError:  # not built: no compiler or headers at install time
    _native = None  # type: ignore[assignment]

PYTHON = "python"
NATIVE = "native"
AVAILABLE = (PYTHON, NATIVE) if _native is not None else (PYTHON,)
"""The implementations this installation has."""

ScanFunction = Callable[..., ScanResult]
EventNumbers = tuple[int, int, int, float, float, float, float, float]
"""``time``, ``start``, ``stale`` (ms since the epoch) and ``lat``, ``lon``, ``hae``, ``ce``, ``le``."""


def _python_scan(data: bytes, *, detail_root: bool, max_depth: int, capture: frozenset[str]) -> ScanResult:
    return Scan(data, detail_root=detail_root, max_depth=max_depth, capture=capture)


def _native_scan(data: bytes, *, detail_root: bool, max_depth: int, capture: frozenset[str]) -> ScanResult:
    assert _native is not None
    try:
        root_tag, root, point, found, start, end, encoding, raw = _native.scan(
            data, detail_root, max_depth, capture, TEXT_TAGS
        )
    except _native.ScanError as exc:
        raise MalformedXml(str(exc)) from exc
    except _native.UnsupportedEncoding:  # pyexpat maps it through a Python codec
        return _python_scan(data, detail_root=detail_root, max_depth=max_depth, capture=capture)
    nodes = [Node(tag, attributes, children, text) for tag, attributes, children, text in raw]
    return ScanResult(
        root_tag=root_tag,
        root=root,
        point=point,
        detail_found=found,
        detail_content_start=start,
        detail_end=end,
        encoding=encoding,
        nodes=nodes,
    )


def _native_check_well_formed(data: bytes) -> None:
    assert _native is not None
    try:
        _native.check_well_formed(data)
    except _native.ScanError as exc:
        raise MalformedXml(str(exc)) from exc
    except _native.UnsupportedEncoding:
        xmlscan.check_well_formed(data)


def _native_xml_end(
    buffer: bytes | bytearray, position: int, closer: bytes, name: bytes
) -> tuple[int, bytes, int]:
    assert _native is not None
    return _native.xml_end(buffer, position, closer, name, markup.MAX_END_TAG_SPACE)


def _python_event_numbers(_root: dict[str, str], _point: dict[str, str]) -> EventNumbers | None:
    return None  # the codec's general path reads every form


scan: ScanFunction = _python_scan
"""One pass over an event or a bare ``<detail>``: see :class:`rallypoint.cot.xmlscan.Scan`."""
check_well_formed: Callable[[bytes], None] = xmlscan.check_well_formed
"""Raise :class:`MalformedXml` unless ``data`` is well-formed XML."""
xml_end: Callable[[bytes | bytearray, int, bytes, bytes], tuple[int, bytes, int]] = markup.xml_end
"""See :func:`rallypoint.cot.markup.xml_end`."""
event_tags: Callable[[bytes | bytearray], int] = markup.event_tags
"""See :func:`rallypoint.cot.markup.event_tags`."""
event_numbers: Callable[[dict[str, str], dict[str, str]], EventNumbers | None] = _python_event_numbers
"""The numbers of an event's ``<event>`` and ``<point>`` attributes, or ``None``: then the caller
reads them itself (a form other than the canonical one, or a value it refuses)."""
IMPLEMENTATION = PYTHON


def use(name: str) -> None:
    """Switch every caller to ``name`` (one of :data:`AVAILABLE`)."""
    global scan, check_well_formed, xml_end, event_tags, event_numbers, IMPLEMENTATION
    if name not in AVAILABLE:
        raise ValueError(f"hot path {name!r} is not available here (have: {', '.join(AVAILABLE)})")
    if name == NATIVE:
        scan, check_well_formed, xml_end = _native_scan, _native_check_well_formed, _native_xml_end
        event_tags, event_numbers = _native.event_tags, _native.event_numbers
    else:
        scan, check_well_formed, xml_end = _python_scan, xmlscan.check_well_formed, markup.xml_end
        event_tags, event_numbers = markup.event_tags, _python_event_numbers
    IMPLEMENTATION = name


def describe() -> str:
    """One line for the server log: which implementation runs, and on which expat."""
    if IMPLEMENTATION == NATIVE and _native is not None:
        return f"native (C, {_native.EXPAT_VERSION})"
    return "pure Python (the native extension was not built)" if _native is None else "pure Python"


use(AVAILABLE[-1])
