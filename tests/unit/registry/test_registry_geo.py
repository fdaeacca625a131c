"""Geo search primitives: distances, bearings, fields of view, the band index."""

from __future__ import annotations

import math
import random

import pytest

from rtcc.registry import geo


def _offset(lat: float, lon: float, distance: float, bearing: float) -> tuple[float, float]:
    """The point at a distance and bearing on the sphere (the direct geodesic problem)."""
    d = distance / geo.EARTH_RADIUS_M
    phi1, lam1, theta = math.radians(lat), math.radians(lon), math.radians(bearing)
    phi2 = math.asin(math.sin(phi1) * math.cos(d) + math.cos(phi1) * math.sin(d) * math.cos(theta))
    lam2 = lam1 + math.atan2(
        math.sin(theta) * math.sin(d) * math.cos(phi1),
        math.cos(d) - math.sin(phi1) * math.sin(phi2),
    )
    return math.degrees(phi2), (math.degrees(lam2) + 540) % 360 - 180


def test_one_degree_of_longitude_at_the_equator_is_111_km() -> None:
    assert geo.distance_m(0, 0, 0, 1) == pytest.approx(111_195, abs=1)
    assert geo.distance_m(42.33, -83.04, 42.33, -83.04) == 0


def test_distance_across_the_antimeridian_is_short() -> None:
    assert geo.distance_m(0, 179.9995, 0, -179.9995) == pytest.approx(111.2, abs=0.5)


@pytest.mark.parametrize(
    ("lat2", "lon2", "expected"),
    [(1, 0, 0), (0, 1, 90), (-1, 0, 180), (0, -1, 270)],
)
def test_bearing_points_clockwise_from_north(lat2: float, lon2: float, expected: float) -> None:
    assert geo.bearing_deg(0, 0, lat2, lon2) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("heading", "angle", "distance", "bearing", "seen"),
    [
        (90, 60, 20, 110, True),  # inside the sector
        (90, 60, 20, 121, False),  # just outside its edge
        (90, 60, 60, 90, False),  # straight ahead but beyond range
        (350, 40, 10, 5, True),  # sector straddling north
        (350, 40, 10, 15, False),
        (0, 360, 49, 200, True),  # a fisheye sees all round
        (180, 10, 0.5, 0, True),  # the point is at the camera
    ],
)
def test_field_of_view_is_a_sector_of_heading_angle_and_range(
    heading: float, angle: float, distance: float, bearing: float, seen: bool
) -> None:
    fov = geo.FieldOfView(heading, angle, 50)
    assert geo.in_field_of_view(fov, distance, bearing) is seen


def test_camera_without_a_field_of_view_never_faces_a_point() -> None:
    assert geo.in_field_of_view(None, 1, 0) is False


def test_band_covers_latitudes_from_pole_to_pole() -> None:
    assert geo.band_of(-90) == 0
    assert geo.band_of(90) == 180 * geo.BANDS_PER_DEGREE
    assert geo.band_of(0.001) == geo.band_of(0.0)


@pytest.mark.parametrize(
    ("lat", "lon", "radius"),
    [
        (42.3314, -83.0458, 500),  # a city
        (0.0, 179.999, 2_000),  # across the antimeridian
        (-33.9, -179.99, 40_000),
        (89.99, 10.0, 5_000),  # reaching the north pole
        (-89.5, 0.0, 60_000),
        (64.1, -21.9, 50_000),  # far north, wide
    ],
)
def test_search_area_contains_every_point_within_the_radius(
    lat: float, lon: float, radius: float
) -> None:
    rng = random.Random(7)
    area = geo.search_area(lat, lon, radius)
    for _ in range(3000):
        plat, plon = _offset(lat, lon, rng.uniform(0, radius * 1.3), rng.uniform(0, 360))
        inside = geo.distance_m(lat, lon, plat, plon) <= radius
        if inside:
            assert geo.in_area(area, plat, plon), (plat, plon)
            assert area.band_min <= geo.band_of(plat) <= area.band_max


def test_small_search_lists_its_bands_and_wide_search_uses_a_range() -> None:
    small = geo.search_area(42.33, -83.04, 500)
    assert small.list_bands and 4 <= len(small.bands) <= 7
    assert len(small.lon_ranges) == 1
    wide = geo.search_area(42.33, -83.04, 50_000)
    assert not wide.list_bands
    assert len(geo.search_area(0, 179.999, 2_000).lon_ranges) == 2


def test_nearest_orders_by_distance_then_id_and_limits() -> None:
    sites = [
        geo.Site("b", 0.0, 0.001, None),
        geo.Site("a", 0.0, -0.001, None),
        geo.Site("c", 0.0, 0.0005, geo.FieldOfView(270, 90, 100)),
        geo.Site("far", 0.0, 0.1, None),
    ]
    hits = geo.nearest(0.0, 0.0, 200, sites)
    assert [h.id for h in hits] == ["c", "a", "b"]
    assert hits[0].in_view and not hits[1].in_view
    assert hits[0].bearing_deg == pytest.approx(270)
    assert [h.id for h in geo.nearest(0.0, 0.0, 200, sites, limit=2)] == ["c", "a"]
    assert [h.id for h in geo.nearest(0.0, 0.0, 200, sites, facing_only=True)] == ["c"]
