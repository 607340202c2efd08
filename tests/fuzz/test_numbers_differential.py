"""Differential fuzz tests of the native reading of an event's numbers (``_numbers.c``): on any
times and point attributes, random or hostile, it gives exactly what the Python path gives
(floats compared bit for bit, so ``-0.0`` is not ``0.0``) or ``None``; for the canonical forms it
never says ``None``; and whole events decode the same with either hot path."""

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rallypoint.cot import hotpath
from rallypoint.cot.timefmt import MAX_TIMESTAMP_TEXT, parse_time
from rallypoint.cot.xml import _numbers, _required, format_number, parse_event
from rallypoint.errors import RallypointError

pytestmark = pytest.mark.skipif(
    hotpath.NATIVE not in hotpath.AVAILABLE, reason="the native extension was not built"
)

POINT_NAMES = ("lat", "lon", "hae", "ce", "le")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

_MOMENTS = st.datetimes(min_value=_EPOCH.replace(tzinfo=None), max_value=_LAST.replace(tzinfo=None))
_CANONICAL_TIMES = st.builds(
    lambda moment, fraction: (
        moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"
    ),
    _MOMENTS,
    st.text("0123456789", max_size=MAX_TIMESTAMP_TEXT - 21),
)
"""``YYYY-MM-DDTHH:MM:SS[.digits]Z`` at every length the cap allows."""

_TIME_CHARACTERS = "0123456789-T:.Z+z, t\u0663\uff10"
_MUTATED_TIMES = st.builds(
    lambda text, at, replacement, keep: text[:at] + replacement + text[at + (0 if keep else 1) :],
    _CANONICAL_TIMES,
    st.integers(min_value=0, max_value=40),
    st.text(_TIME_CHARACTERS, max_size=3),
    st.booleans(),
)
"""A canonical time with a few characters replaced, inserted or dropped."""

_EDGE_TIMES = st.builds(
    lambda year, month, day, hour, minute, second, zone: (
        f"{year}-{month}-{day}T{hour}:{minute}:{second}{zone}"
    ),
    st.sampled_from(["0000", "1900", "1969", "1970", "2000", "2023", "2024", "2100", "9999"]),
    st.sampled_from(["00", "01", "02", "04", "12", "13"]),
    st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]),
    st.sampled_from(["00", "23", "24", "99"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60", "61"]),
    st.one_of(st.just("Z"), st.sampled_from([".5Z", ".Z", "", "+00:00", "-05:30", "z", ",5Z", ".1234567Z"])),
)
"""Each field at and past its limits: February 29th in leap and other years, hour 24, second 60."""

_TIMES = st.one_of(_CANONICAL_TIMES, _MUTATED_TIMES, _EDGE_TIMES, st.text(max_size=70))

_CANONICAL_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(format_number),
    st.floats(min_value=-180, max_value=180).map(format_number),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.builds(
        lambda sign, whole, fraction: f"{sign}{whole}.{fraction}",
        st.sampled_from(["", "-"]),
        st.text("0123456789", min_size=1, max_size=20),
        st.text("0123456789", min_size=1, max_size=20),
    ),
).filter(lambda text: len(text) <= 40)
"""Plain decimals: an optional minus, digits, optionally a point and digits."""

_NUMBERS = st.one_of(
    _CANONICAL_NUMBERS,
    st.sampled_from(
        [
            "",
            "-",
            ".5",
            "5.",
            "-.5",
            "+1",
            " 1",
            "1 ",
            "1_0",
            "1e5",
            "1E-3",
            "nan",
            "-inf",
            "Infinity",
            "--1",
            "0x10",
            "\u0661",
            "1\u00a0",
            "90.0000000000001",
            "-180.0",
            "-0",
            "-0.0",
            "9" * 40,
            "9" * 41,
            "0" * 39 + "1",
            "1." + "0" * 38,
        ]
    ),
    st.text("0123456789.-+eE_ ", max_size=45),
    st.text(max_size=12),
)


def _point(values: list[str | None]) -> dict[str, str]:
    return {name: value for name, value in zip(POINT_NAMES, values, strict=True) if value is not None}


def _root(time: str | None, start: str | None, stale: str | None) -> dict[str, str]:
    attributes = {"time": time, "start": start, "stale": stale}
    return {name: value for name, value in attributes.items() if value is not None}


def _exact(value: Any) -> Any:
    """A value compared bit for bit: floats by their representation (``-0.0`` differs from ``0.0``)."""
    if isinstance(value, tuple):
        return tuple(_exact(item) for item in value)
    return (type(value).__name__, repr(value))


def _python_numbers(root: dict[str, str], point: dict[str, str]) -> tuple[str, Any]:
    """What the codec's general path reads, or the error it raises."""
    try:
        return ("value", _exact(_numbers(root, point, parse_time(_required(root, "time")))))
    except RallypointError as exc:
        return (type(exc).__name__, str(exc))


def _check(root: dict[str, str], point: dict[str, str]) -> hotpath.EventNumbers | None:
    from rallypoint.cot import _native

    native = _native.event_numbers(root, point)
    if native is not None:
        assert ("value", _exact(native)) == _python_numbers(root, point)
    return native


_OPTIONAL_TIMES = st.one_of(st.none(), _TIMES)
_OPTIONAL_NUMBERS = st.one_of(st.none(), _NUMBERS)


@given(_OPTIONAL_TIMES, _OPTIONAL_TIMES, _OPTIONAL_TIMES, st.lists(_OPTIONAL_NUMBERS, min_size=5, max_size=5))
@example("2024-02-29T23:59:59.9999Z", "", "2023-02-29T00:00:00Z", ["0", "0", None, None, None])
@example("2024-05-01T12:00:00.Z", None, "2024-05-01T12:00:00Z", ["-0", "-0.0", "1e3", None, None])
@example("1969-12-31T23:59:59.999Z", None, "2024-05-01T12:00:00Z", [None] * 5)
@example("2024-05-01T23:59:59Z", None, "2024-05-01T12:00:59Z", ["90", "180", None, None, None])
def test_native_numbers_are_the_python_ones_or_none(
    time: str | None, start: str | None, stale: str | None, point: list[str | None]
) -> None:
    _check(_root(time, start, stale), _point(point))


VALID_ROOT = {
    "time": "2024-05-01T12:00:00.000Z",
    "start": "2024-05-01T12:00:00.000Z",
    "stale": "2024-05-01T12:05:00Z",
}
VALID_POINT = {
    "lat": "38.8512345",
    "lon": "-77.0412345",
    "hae": "9999999.0",
    "ce": "9999999.0",
    "le": "9999999.0",
}


@given(st.sampled_from(["time", "start", "stale"]), _TIMES)
@example("time", "2024-05-01T24:00:00Z")
@example("stale", "2024-05-01T12:00:00." + "0" * 42 + "Z")
@example("stale", "2024-05-01T12:00:00." + "0" * 43 + "Z")
@example("start", "2023-02-29T00:00:00Z")
def test_one_hostile_time_among_valid_numbers(name: str, text: str) -> None:
    _check({**VALID_ROOT, name: text}, VALID_POINT)


def test_every_month_end_in_leap_and_other_years() -> None:
    """Exhaustive at the calendar's edges: the last days of every month, the century rules."""
    for year in (1970, 1972, 2000, 2023, 2024, 2100, 2400, 9996, 9999):
        for month in range(13):
            for day in (0, 28, 29, 30, 31, 32):
                text = f"{year:04d}-{month:02d}-{day:02d}T23:59:59.999Z"
                native = _check({**VALID_ROOT, "time": text}, VALID_POINT)
                assert (native is not None) == _python_numbers({**VALID_ROOT, "time": text}, VALID_POINT)[
                    0
                ].startswith("value")


@given(st.sampled_from(POINT_NAMES), _NUMBERS)
@example("lat", "-0")
@example("lon", "180.0000000000001")
def test_one_hostile_number_among_valid_numbers(name: str, text: str) -> None:
    _check(VALID_ROOT, {**VALID_POINT, name: text})


@given(
    _CANONICAL_TIMES,
    st.one_of(st.none(), st.just(""), _CANONICAL_TIMES),
    _CANONICAL_TIMES,
    st.lists(st.one_of(st.none(), st.just(""), _CANONICAL_NUMBERS), min_size=5, max_size=5),
)
@example("9999-12-31T23:59:59.999999999Z", None, "1970-01-01T00:00:00Z", ["-90", "-180", "0", "0", "0"])
def test_canonical_numbers_are_read_natively(
    time: str, start: str | None, stale: str, point: list[str | None]
) -> None:
    lat, lon = (float(text) if text else 0.0 for text in point[:2])
    native = _check(_root(time, start, stale), _point(point))
    assert (native is not None) == (abs(lat) <= 90 and abs(lon) <= 180)


@pytest.mark.parametrize(
    ("root", "point"),
    [
        ({"time": "2024-05-01T12:00:00+00:00", "stale": "2024-05-01T12:00:00Z"}, {}),
        ({"time": "2024-05-01T12:00:00", "stale": "2024-05-01T12:00:00Z"}, {}),
        ({"time": "2024-05-01T12:00:00Z", "stale": "2024-05-01T12:00:00Z"}, {"lat": "1e1"}),
        ({"time": "2024-05-01T12:00:00Z", "stale": "2024-05-01T12:00:00Z"}, {"hae": " 5"}),
        ({"time": "2024-05-01T12:00:00Z"}, {}),
        ({"time": "2024-05-01T12:00:00Z", "stale": "2024-05-01T12:00:00Z"}, {"lon": "180.5"}),
    ],
)
def test_other_forms_and_refusals_are_left_to_python(root: dict[str, str], point: dict[str, str]) -> None:
    from rallypoint.cot import _native

    assert _native.event_numbers(root, point) is None


def _event(time: str, start: str | None, stale: str, point: list[str | None]) -> bytes:
    times = f' time="{time}"' + ("" if start is None else f' start="{start}"') + f' stale="{stale}"'
    coordinates = "".join(f' {n}="{v}"' for n, v in zip(POINT_NAMES, point, strict=True) if v is not None)
    text = f'<event version="2.0" uid="U" type="a-f-G" how="m-g"{times}><point{coordinates}/></event>'
    return text.replace("&", "&amp;").encode()


def _decoded(data: bytes) -> tuple[str, Any]:
    try:
        event = parse_event(data)
    except (RallypointError, ValueError) as exc:
        return (type(exc).__name__, str(exc))
    return ("value", _exact(tuple(event[:6])) + _exact(tuple(event.point)))


def _with(name: str, call: Callable[[], tuple[str, Any]]) -> tuple[str, Any]:
    previous = hotpath.IMPLEMENTATION
    hotpath.use(name)
    try:
        return call()
    finally:
        hotpath.use(previous)


_ATTRIBUTE_TIMES = _TIMES.map(lambda text: text.replace('"', "").replace("<", ""))
_ATTRIBUTE_NUMBERS = _NUMBERS.map(lambda text: text.replace('"', "").replace("<", ""))


@given(
    _ATTRIBUTE_TIMES,
    st.one_of(st.none(), _ATTRIBUTE_TIMES),
    _ATTRIBUTE_TIMES,
    st.lists(st.one_of(st.none(), _ATTRIBUTE_NUMBERS), min_size=5, max_size=5),
)
@example(
    "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00Z", ["-0", "0", None, None, None]
)
def test_events_decode_the_same_with_either_hot_path(
    time: str, start: str | None, stale: str, point: list[str | None]
) -> None:
    data = _event(time, start, stale, point)
    python = _with(hotpath.PYTHON, lambda: _decoded(data))
    assert _with(hotpath.NATIVE, lambda: _decoded(data)) == python


def test_the_edges_of_the_ranges_are_the_python_ones() -> None:
    """Just inside and just outside: the latitude's bounds, the first and the last millisecond."""
    inside = repr(math.nextafter(90.0, 0.0))
    times = {"time": "1970-01-01T00:00:00Z", "stale": "9999-12-31T23:59:59.999Z"}
    numbers = _check(times, {"lat": inside, "lon": "-180"})
    last = (_LAST - _EPOCH) // timedelta(milliseconds=1)
    assert numbers is not None
    assert numbers[:4] == (0, 0, last, float(inside))
    assert _check(times, {"lat": "90.00000000000001"}) is None
