"""Geo search over the database agrees with a brute-force search over every camera."""

from __future__ import annotations

import csv
import io
import math
import random

import pytest
import pytest_asyncio

from rtcc.registry import geo
from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry

# Two clusters: a city, and one straddling the antimeridian near Fiji.
CENTRES = [(48.8566, 2.3522), (-16.5, 179.995)]
PER_CLUSTER = 250


def _inventory(
    rng: random.Random, centre: tuple[float, float], prefix: str
) -> tuple[bytes, list[geo.Site]]:
    """A CSV inventory of cameras scattered around a centre, and the same as sites."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "external_id",
            "display_name",
            "latitude",
            "longitude",
            "heading_degrees",
            "angle_degrees",
            "range_meters",
        ]
    )
    sites = []
    for i in range(PER_CLUSTER):
        lat = centre[0] + rng.uniform(-0.01, 0.01)
        lon = (centre[1] + rng.uniform(-0.015, 0.015) + 540) % 360 - 180
        fov = None
        view: list[object] = ["", "", ""]
        if rng.random() < 0.8:
            fov = geo.FieldOfView(
                rng.uniform(0, 359.9), rng.choice([30, 60, 90, 360]), rng.uniform(20, 300)
            )
            view = [repr(fov.heading_degrees), fov.angle_degrees, repr(fov.range_meters)]
        writer.writerow([f"{prefix}-{i}", f"cam {i}", repr(lat), repr(lon), *view])
        sites.append(geo.Site(f"{prefix}-{i}", lat, lon, fov))
    return buffer.getvalue().encode(), sites


@pytest_asyncio.fixture(scope="module")
async def city(registry: Registry) -> tuple[str, list[geo.Site]]:
    """Cameras imported into one organisation; sites keyed by camera id."""
    org = await registry.org(pb.ORGANIZATION_KIND_AGENCY, "Search city")
    admin = registry.stub(org, "partner-admin")
    rng = random.Random(20260220)
    sites: list[geo.Site] = []
    for n, centre in enumerate(CENTRES):
        content, generated = _inventory(rng, centre, f"c{n}")
        reply = await admin.ImportCameras(
            pb.ImportCamerasRequest(format=pb.INVENTORY_FORMAT_CSV, content=content)
        )
        assert reply.created_count == PER_CLUSTER, [r.message for r in reply.rows if r.message][:3]
        ids = {r.external_id: r.camera_id for r in reply.rows}
        sites += [geo.Site(ids[s.id], s.latitude, s.longitude, s.fov) for s in generated]
    return org, sites


def queries(seed: int) -> list[tuple[float, float, float, bool, int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(60):
        lat, lon = rng.choice(CENTRES)
        lat += rng.uniform(-0.012, 0.012)
        lon = (lon + rng.uniform(-0.02, 0.02) + 540) % 360 - 180
        out.append(
            (
                lat,
                lon,
                rng.choice([30.0, 150.0, 500.0, 1500.0]),
                rng.random() < 0.3,
                rng.choice([0, 5, 1000]),
            )
        )
    return out


async def test_search_matches_brute_force(
    registry: Registry, city: tuple[str, list[geo.Site]]
) -> None:
    org, sites = city
    operator = registry.stub(org, "operator")
    for lat, lon, radius, facing, limit in queries(1):
        reply = await operator.SearchCamerasNearby(
            pb.SearchCamerasNearbyRequest(
                location={"latitude": lat, "longitude": lon},
                radius_meters=radius,
                facing_only=facing,
                max_results=limit,
            )
        )
        expected = geo.nearest(lat, lon, radius, sites, facing_only=facing, limit=limit or 100)
        query = (lat, lon, radius, facing, limit)
        got = [(r.camera.id, r.in_field_of_view) for r in reply.results]
        assert got == [(h.id, h.in_view) for h in expected], query
        for result, hit in zip(reply.results, expected, strict=True):
            assert result.distance_meters == pytest.approx(hit.distance_m, abs=1e-6)
            assert math.isclose(result.bearing_degrees, hit.bearing_deg, abs_tol=1e-6)
            assert result.camera.caller_access.owner


async def test_search_for_a_grantee_returns_only_granted_cameras(
    registry: Registry, city: tuple[str, list[geo.Site]]
) -> None:
    org, sites = city
    partner = await registry.org(name="Partner")
    granted = {s.id for s in sites[:PER_CLUSTER:3]}
    await registry.stub(org, "partner-admin").CreateSharingGrant(
        pb.CreateSharingGrantRequest(
            grant=pb.SharingGrant(
                grantee_organization_id=partner, camera_ids=sorted(granted), live=True
            )
        )
    )
    lat, lon = CENTRES[0]
    reply = await registry.stub(partner, "operator").SearchCamerasNearby(
        pb.SearchCamerasNearbyRequest(
            location={"latitude": lat, "longitude": lon}, radius_meters=5000, max_results=1000
        )
    )
    visible = [s for s in sites if s.id in granted]
    expected = geo.nearest(lat, lon, 5000, visible, limit=1000)
    assert [r.camera.id for r in reply.results] == [h.id for h in expected]
    assert all(r.camera.caller_access.live for r in reply.results)
