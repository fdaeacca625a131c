"""How cameras are read: the SQL statements of the hot paths and the mapping of rows.

The geo and by-id queries are built once with a few fixed shapes (IN lists padded to
fixed lengths) so that SQLAlchemy compiles each once and the database sees a handful of
prepared statements; access filtering joins grants in the database for the same reason.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from rtcc.registry import access, convert, geo
from rtcc.registry.grant_store import in_force_clause
from rtcc.registry.tables import camera_health, cameras, grant_cameras, grants
from rtcc.registry.v1 import registry_pb2 as pb

_HEALTH = [
    camera_health.c.status,
    camera_health.c.last_seen_time,
    camera_health.c.frames_per_second,
    camera_health.c.bitrate_bps,
    camera_health.c.detail,
    camera_health.c.report_time,
]
_SITE = [
    cameras.c.id,
    cameras.c.latitude,
    cameras.c.longitude,
    cameras.c.heading_degrees,
    cameras.c.angle_degrees,
    cameras.c.range_meters,
    cameras.c.organization_id,
]


_BOX = (
    cameras.c.longitude.between(sa.bindparam("lon_lo"), sa.bindparam("lon_hi")),
    cameras.c.latitude.between(sa.bindparam("lat_lo"), sa.bindparam("lat_hi")),
)


def _slots(count: int, sizes: tuple[int, ...] = (8, 16, 32, 64)) -> int:
    """IN lists on the hot paths come in a few fixed lengths (padded by repeating the
    last value) so that each query is one of a handful of statements, compiled once."""
    return next(n for n in sizes if count <= n)


def _padded(prefix: str, values: Sequence[Any], slots: int) -> dict[str, Any]:
    return {f"{prefix}{i}": values[min(i, len(values) - 1)] for i in range(slots)}


@functools.cache
def _near_bands(slots: int, full: bool) -> sa.Select[Any]:
    params: list[Any] = [sa.bindparam(f"b{i}") for i in range(slots)]
    return _near_select(full).where(cameras.c.geo_band.in_(params), *_BOX)


def _near_select(full: bool) -> sa.Select[Any]:
    """Light rows (from the covering index) when most candidates will be dropped;
    whole rows when the caller sees every camera and most will be returned."""
    return select_cameras() if full else sa.select(*_SITE)


_ID_SLOTS = (8, 32, 128, 512)


@functools.cache
def _by_ids(slots: int) -> sa.Select[Any]:
    params: list[Any] = [sa.bindparam(f"i{i}") for i in range(slots)]
    return select_cameras().where(cameras.c.id.in_(params))


class Near(NamedTuple):
    """A camera found in a search box: where it is, who owns it, and its whole row
    when it was read."""

    site: geo.Site
    owner: str
    row: Any = None


@dataclass(frozen=True)
class StoredCamera:
    """A camera as read from the store (public fields only) and what guards its writes."""

    camera: pb.Camera
    organization_id: str
    revision: int
    # Only when read with ``select_cameras(sealed=True)``.
    sealed_credentials: bytes | None

    @property
    def etag(self) -> str:
        return str(self.revision)


def visible(vis: access.Visibility, now: datetime) -> sa.ColumnElement[bool]:
    """The SQL twin of the caller's view: cameras owned, or covered by a grant in force.
    Grants are joined in the database rather than sent as id lists, so the statement's
    shape never changes and it is compiled once."""
    if vis.everything:
        return sa.true()
    org = vis.org_id
    whole = sa.select(grants.c.grantor_org_id).where(
        grants.c.grantee_org_id == org, grants.c.all_cameras.is_(True), in_force_clause(now)
    )
    named = (
        sa.select(grant_cameras.c.camera_id)
        .join(grants, grants.c.id == grant_cameras.c.grant_id)
        .where(
            grants.c.grantee_org_id == org, grants.c.all_cameras.is_(False), in_force_clause(now)
        )
    )
    return sa.or_(
        cameras.c.organization_id == org,
        cameras.c.organization_id.in_(whole),
        cameras.c.id.in_(named),
    )


# What reads need of a camera row: its settings, version, times and the site columns
# (whole-row searches refine on them); whether credentials exist, not the credentials.
_READ = [
    cameras.c.id,
    cameras.c.organization_id,
    cameras.c.spec,
    cameras.c.revision,
    cameras.c.create_time,
    cameras.c.update_time,
    cameras.c.latitude,
    cameras.c.longitude,
    cameras.c.heading_degrees,
    cameras.c.angle_degrees,
    cameras.c.range_meters,
]


def select_cameras(*, sealed: bool = False) -> sa.Select[Any]:
    """Cameras with their health; ``sealed`` also reads the sealed credentials (writes
    and ingest need them, nothing else does)."""
    has_credentials = cameras.c.credentials.is_not(None).label("has_credentials")
    columns = [*_READ, has_credentials, *([cameras.c.credentials] if sealed else [])]
    return sa.select(*columns, *_HEALTH).select_from(
        cameras.outerjoin(camera_health, camera_health.c.camera_id == cameras.c.id)
    )


_BAND_RANGE = cameras.c.geo_band.between(sa.bindparam("band_lo"), sa.bindparam("band_hi"))


def stored_camera(row: Any) -> StoredCamera:
    """A camera from a row of the camera query (cameras outer-joined with health)."""
    camera = pb.Camera.FromString(row.spec)
    camera.id, camera.organization_id = row.id, row.organization_id
    camera.etag = str(row.revision)
    convert.set_time(camera.create_time, row.create_time)
    convert.set_time(camera.update_time, row.update_time)
    if row.has_credentials:
        camera.streams.has_credentials = True
    if row.status is not None:
        health = camera.health
        health.status = row.status
        convert.set_time(health.last_seen_time, row.last_seen_time)
        health.frames_per_second = row.frames_per_second
        health.bitrate_bps = row.bitrate_bps
        health.detail = row.detail
        convert.set_time(health.report_time, row.report_time)
    sealed = row.credentials if "credentials" in row._fields else None
    return StoredCamera(camera, row.organization_id, row.revision, sealed)


def site_of(row: Any) -> geo.Site:
    fov = None
    if row.range_meters is not None:
        fov = geo.FieldOfView(row.heading_degrees, row.angle_degrees, row.range_meters)
    return geo.Site(row.id, row.latitude, row.longitude, fov)


def row_values(camera: pb.Camera, revision: int, now: datetime) -> dict[str, Any]:
    fov = camera.field_of_view if camera.HasField("field_of_view") else None
    return {
        "display_name": camera.display_name,
        "external_id": camera.external_id or None,
        "main_url": camera.streams.main_url or None,
        "latitude": camera.location.latitude,
        "longitude": camera.location.longitude,
        "geo_band": geo.band_of(camera.location.latitude),
        "heading_degrees": fov.heading_degrees if fov else None,
        "angle_degrees": fov.angle_degrees if fov else None,
        "range_meters": fov.range_meters if fov else None,
        "spec": convert.camera_spec(camera).SerializeToString(),
        "revision": revision,
        "update_time": now,
    }


def public_camera(
    camera: pb.Camera, revision: int, now: datetime, has_credentials: bool
) -> pb.Camera:
    out = convert.camera_spec(camera)
    out.etag = str(revision)
    out.update_time.FromDatetime(now)
    if has_credentials:
        out.streams.has_credentials = True
    return out


def near_queries(
    area: geo.SearchArea, vis: access.Visibility, now: datetime, full: bool
) -> list[tuple[sa.Select[Any], dict[str, Any]]]:
    """The statements (one per longitude range) reading a search area's candidates.
    Small areas are filtered for access by the caller (cheaper than SQL for the few
    hundred rows a city block holds); wide ones in SQL."""
    out = []
    for lon_lo, lon_hi in area.lon_ranges:
        params: dict[str, Any] = {
            "lon_lo": lon_lo,
            "lon_hi": lon_hi,
            "lat_lo": area.lat_min,
            "lat_hi": area.lat_max,
        }
        if area.list_bands:
            slots = _slots(len(area.bands))
            query = _near_bands(slots, full)
            params.update(_padded("b", list(area.bands), slots))
        else:
            query = _near_select(full).where(_BAND_RANGE, *_BOX)
            if not full:
                query = query.where(visible(vis, now))
            params.update(band_lo=area.band_min, band_hi=area.band_max)
        out.append((query, params))
    return out


def by_ids(ids: Sequence[str]) -> list[tuple[sa.Select[Any], dict[str, Any]]]:
    """The statements reading cameras by id, in chunks of fixed-size IN lists."""
    out = []
    for start in range(0, len(ids), _ID_SLOTS[-1]):
        chunk = list(ids[start : start + _ID_SLOTS[-1]])
        slots = _slots(len(chunk), _ID_SLOTS)
        out.append((_by_ids(slots), _padded("i", chunk, slots)))
    return out
