"""Geometry on the Earth for camera search: distances, bearings, fields of view, cells.

Everything here is pure. The search index is a *latitude band* key: the Earth is cut
into horizontal bands ``BAND_DEGREES`` high and each camera stores the integer band of
its latitude. A B-tree index on ``(geo_band, longitude)`` then answers "cameras in this
bounding box" as a handful of exact index ranges (one per band) on SQLite and
PostgreSQL alike, without PostGIS; the exact great-circle distance refines the result.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

# Mean Earth radius (IUGG), metres; the same sphere everywhere in the platform.
EARTH_RADIUS_M = 6_371_008.8
METERS_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180.0
# Band height: 1/512 degree of latitude, about 217 m. A 500 m search reads 5 to 6 bands,
# each an index range a little over 1 km long; finer bands buy little and cost more ranges.
BANDS_PER_DEGREE = 512
BAND_DEGREES = 1.0 / BANDS_PER_DEGREE
# Beyond this many bands a query scans the band range as one index range instead.
MAX_BAND_LIST = 64
# Widen boxes by a hair so that float rounding never drops a camera on the boundary.
_EPSILON_DEG = 1e-9


class FieldOfView(NamedTuple):
    """The sector a camera covers: heading and angle in degrees, range in metres."""

    heading_degrees: float
    angle_degrees: float
    range_meters: float


@dataclass(frozen=True)
class SearchArea:
    """The index ranges that contain every point within a radius of a centre."""

    band_min: int
    band_max: int
    lat_min: float
    lat_max: float
    # One longitude range, or two when the circle crosses the antimeridian.
    lon_ranges: tuple[tuple[float, float], ...]

    @property
    def bands(self) -> range:
        return range(self.band_min, self.band_max + 1)

    @property
    def list_bands(self) -> bool:
        """Whether to query the bands as a list of points (True) or one range."""
        return len(self.bands) <= MAX_BAND_LIST


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres between two points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from true north, [0, 360)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlam = math.radians(lon2 - lon1)
    y = math.sin(dlam) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlam)
    return math.degrees(math.atan2(y, x)) % 360.0


def angle_between(a: float, b: float) -> float:
    """Smallest absolute difference between two directions in degrees, [0, 180]."""
    diff = abs(a - b) % 360.0
    return 360.0 - diff if diff > 180.0 else diff


def in_field_of_view(
    fov: FieldOfView | None, distance_meters: float, bearing_degrees: float
) -> bool:
    """Whether a point at this distance and bearing from a camera lies in its view.

    A camera with no known field of view never "faces" a point. A point within a metre
    of the camera counts as seen whatever the direction (the bearing is meaningless).
    """
    if fov is None or distance_meters > fov.range_meters:
        return False
    if distance_meters < 1.0 or fov.angle_degrees >= 360.0:
        return True
    return angle_between(bearing_degrees, fov.heading_degrees) <= fov.angle_degrees / 2.0


def band_of(latitude: float) -> int:
    """The index band of a latitude."""
    clamped = min(max(latitude, -90.0), 90.0)
    return math.floor((clamped + 90.0) * BANDS_PER_DEGREE)


def search_area(latitude: float, longitude: float, radius_m: float) -> SearchArea:
    """The bounding box (as index ranges) of the circle of ``radius_m`` around a point.

    The longitude half-width is exact for a sphere: asin(sin(r) / cos(lat)) (Matuschek);
    when the circle reaches a pole every longitude qualifies.
    """
    angular = radius_m / EARTH_RADIUS_M
    dlat = math.degrees(angular) + _EPSILON_DEG
    lat_min, lat_max = latitude - dlat, latitude + dlat
    reaches_pole = lat_min <= -90.0 or lat_max >= 90.0
    lat_min, lat_max = max(lat_min, -90.0), min(lat_max, 90.0)
    ratio = math.sin(angular) / max(math.cos(math.radians(latitude)), 1e-12)
    if reaches_pole or ratio >= 1.0 or angular >= math.pi / 2:
        lon_ranges: tuple[tuple[float, float], ...] = ((-180.0, 180.0),)
    else:
        dlon = math.degrees(math.asin(ratio)) + _EPSILON_DEG
        lon_ranges = _wrap(longitude - dlon, longitude + dlon)
    return SearchArea(band_of(lat_min), band_of(lat_max), lat_min, lat_max, lon_ranges)


def _wrap(lon_min: float, lon_max: float) -> tuple[tuple[float, float], ...]:
    if lon_min < -180.0:
        return ((lon_min + 360.0, 180.0), (-180.0, lon_max))
    if lon_max > 180.0:
        return ((lon_min, 180.0), (-180.0, lon_max - 360.0))
    return ((lon_min, lon_max),)


def in_area(area: SearchArea, latitude: float, longitude: float) -> bool:
    """Whether a point passes the box prefilter (the SQL query's exact Python twin)."""
    if not area.lat_min <= latitude <= area.lat_max:
        return False
    return any(lo <= longitude <= hi for lo, hi in area.lon_ranges)


class Site(NamedTuple):
    """A camera as the search sees it: where it is and where it looks."""

    id: str
    latitude: float
    longitude: float
    fov: FieldOfView | None


class Hit(NamedTuple):
    """A camera found near a point."""

    id: str
    distance_m: float
    # Direction from the camera to the point.
    bearing_deg: float
    in_view: bool


def nearest(
    latitude: float,
    longitude: float,
    radius_m: float,
    sites: Iterable[Site],
    *,
    facing_only: bool = False,
    limit: int | None = None,
) -> list[Hit]:
    """The sites within ``radius_m`` of the point, nearest first (ties by id)."""
    hits: list[Hit] = []
    for site in sites:
        distance = distance_m(site.latitude, site.longitude, latitude, longitude)
        if distance > radius_m:
            continue
        bearing = bearing_deg(site.latitude, site.longitude, latitude, longitude)
        seen = in_field_of_view(site.fov, distance, bearing)
        if facing_only and not seen:
            continue
        hits.append(Hit(site.id, distance, bearing, seen))
    if limit is not None and limit < len(hits):
        return heapq.nsmallest(limit, hits, key=lambda h: (h.distance_m, h.id))
    return sorted(hits, key=lambda h: (h.distance_m, h.id))
