"""ENU frames: exact round trips, known values, and vectors moved between frames."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rallypoint.fusion.geo import LocalFrame, course_from_velocity, from_ecef, to_ecef, velocity_from_course

latitudes = st.floats(-85.0, 85.0)
longitudes = st.floats(-180.0, 180.0)


def test_ecef_of_known_points() -> None:
    assert to_ecef(0.0, 0.0, 0.0) == pytest.approx((6378137.0, 0.0, 0.0))
    assert to_ecef(90.0, 0.0, 0.0) == pytest.approx((0.0, 0.0, 6356752.314245), abs=1e-3)


@given(latitudes, longitudes, st.floats(-500.0, 15000.0))
def test_ecef_round_trip(lat: float, lon: float, hae: float) -> None:
    back = from_ecef(to_ecef(lat, lon, hae))
    assert back[0] == pytest.approx(lat, abs=1e-9)
    assert math.remainder(back[1] - lon, 360.0) == pytest.approx(0.0, abs=1e-9)
    assert back[2] == pytest.approx(hae, abs=1e-4)


@given(
    latitudes,
    longitudes,
    st.floats(-50_000.0, 50_000.0),
    st.floats(-50_000.0, 50_000.0),
    st.floats(-100.0, 12000.0),
)
def test_enu_round_trip(lat: float, lon: float, east: float, north: float, up: float) -> None:
    frame = LocalFrame(lat, lon)
    point = frame.to_geodetic(east, north, up)
    assert frame.to_enu(*point) == pytest.approx((east, north, up), abs=1e-4)


def test_enu_axes_point_east_and_north() -> None:
    frame = LocalFrame(50.0, -1.0)
    east, north, _ = frame.to_enu(50.0, -0.99)
    assert east == pytest.approx(716.96, abs=0.05)  # 0.01° of longitude at 50°N on WGS-84
    assert abs(north) < 0.1
    east, north, _ = frame.to_enu(50.01, -1.0)
    assert north == pytest.approx(1112.0, abs=1.0)
    assert abs(east) < 1e-6


def test_velocity_keeps_its_direction_on_the_ground_across_frames() -> None:
    near, far = LocalFrame(50.0, -1.0), LocalFrame(50.0, 0.0)
    same = near.velocity_in(near, 3.0, 4.0)
    assert same == pytest.approx((3.0, 4.0))
    moved = near.velocity_in(far, 0.0, 100.0)
    assert math.hypot(*moved) == pytest.approx(100.0, rel=1e-3)
    # Meridians converge: north one degree of longitude west points east of north here by the
    # convergence angle, 1° x sin(50°).
    assert moved[0] == pytest.approx(100.0 * math.sin(math.radians(math.sin(math.radians(50.0)))), rel=1e-2)


@given(st.floats(0.0, 359.999), st.floats(0.1, 400.0))
def test_course_speed_round_trip(course: float, speed: float) -> None:
    back_course, back_speed = course_from_velocity(*velocity_from_course(course, speed))
    assert math.remainder(back_course - course, 360.0) == pytest.approx(0.0, abs=1e-9)
    assert back_speed == pytest.approx(speed)


@given(latitudes, longitudes, st.floats(-0.5, 0.5), st.floats(-0.5, 0.5), st.floats(-100.0, 12000.0))
def test_closed_form_enu_equals_the_rotated_ecef_difference(
    lat: float, lon: float, d_lat: float, d_lon: float, hae: float
) -> None:
    """``to_enu`` skips the ECEF round trip; it must still be the textbook rotation of the ECEF offset."""
    frame = LocalFrame(lat, lon)
    point = to_ecef(lat + d_lat, lon + d_lon, hae)
    origin = to_ecef(lat, lon, 0.0)
    phi, lam = math.radians(lat), math.radians(lon)
    dx, dy, dz = (p - o for p, o in zip(point, origin, strict=True))
    expected = (
        -math.sin(lam) * dx + math.cos(lam) * dy,
        -math.sin(phi) * math.cos(lam) * dx - math.sin(phi) * math.sin(lam) * dy + math.cos(phi) * dz,
        math.cos(phi) * math.cos(lam) * dx + math.cos(phi) * math.sin(lam) * dy + math.sin(phi) * dz,
    )
    assert frame.to_enu(lat + d_lat, lon + d_lon, hae) == pytest.approx(expected, abs=1e-6)
