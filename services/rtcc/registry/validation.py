"""Checks of registry input. Pure: each failure is an InvalidArgument naming its field.

Field names are the request's own paths (``camera.location.latitude``) so that a client,
or the import report, can point at the exact input at fault.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf import field_mask_pb2

from rtcc.common import paging
from rtcc.common.v1 import common_pb2
from rtcc.core.errors import InvalidArgument
from rtcc.registry.v1 import registry_pb2 as pb

_ID = re.compile(r"^[a-z]{2,5}_[a-z0-9_-]{3,60}$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NAME = 200
MAX_TAGS = 32
MAX_MASKS = 32
MAX_MASK_VERTICES = 100
MAX_URL = 2048
MAX_RANGE_M = 5000.0
MAX_RETENTION_DAYS = 3650
MAX_GRANT_CAMERAS = 10_000
MAX_PAGE = 1000
DEFAULT_PAGE = 100


def check_id(value: str, prefix: str, field: str) -> str:
    """A resource id such as ``cam_…``: present and well formed."""
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    if not _ID.match(value) or not value.startswith(prefix + "_"):
        raise InvalidArgument(f"{field} {value!r} is not a {prefix}_… id", field=field)
    return value


def page_size(value: int, field: str = "page_size") -> int:
    """The platform's one page-size rule (rtcc.common.paging): 0 → default, above → cap."""
    return paging.page_size(value, default=DEFAULT_PAGE, cap=MAX_PAGE, field=field)


def text(value: str, field: str, *, required: bool = False, limit: int = MAX_NAME) -> str:
    if required and not value.strip():
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > limit:
        raise InvalidArgument(f"{field} is longer than {limit} characters", field=field)
    if any(ord(c) < 32 for c in value):
        raise InvalidArgument(f"{field} contains control characters", field=field)
    return value


def _finite(value: float, field: str) -> None:
    if not math.isfinite(value):
        raise InvalidArgument(f"{field} must be a finite number, got {value}", field=field)


def lat_lng(point: common_pb2.LatLng, field: str) -> None:
    _finite(point.latitude, f"{field}.latitude")
    _finite(point.longitude, f"{field}.longitude")
    if not -90.0 <= point.latitude <= 90.0:
        raise InvalidArgument(
            f"{field}.latitude must be -90 to 90, got {point.latitude}", field=f"{field}.latitude"
        )
    if not -180.0 <= point.longitude <= 180.0:
        raise InvalidArgument(
            f"{field}.longitude must be -180 to 180, got {point.longitude}",
            field=f"{field}.longitude",
        )
    if point.latitude == 0.0 and point.longitude == 0.0:
        raise InvalidArgument(f"{field} is (0, 0): the location is missing", field=field)


def rtsp_url(url: str, field: str) -> None:
    """An ``rtsp://`` or ``rtsps://`` URL with a host and no embedded credentials."""
    if len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidArgument(f"{field} is too long or contains spaces", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"{field} is not a valid URL: {exc}", field=field) from None
    if parts.scheme not in ("rtsp", "rtsps"):
        raise InvalidArgument(f"{field} must be an rtsp:// or rtsps:// URL", field=field)
    if not parts.hostname:
        raise InvalidArgument(f"{field} has no host", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument(
            f"{field} must not contain a user name or password; "
            "send them in streams.credentials, which is stored encrypted",
            field=field,
        )
    if port == 0:
        raise InvalidArgument(f"{field} has port 0", field=field)


def polygon(poly: common_pb2.ImagePolygon, field: str) -> None:
    """At least three distinct vertices in [0, 1] forming a simple ring of some area."""
    points = [(v.x, v.y) for v in poly.vertices]
    if len(points) > 3 and points[0] == points[-1]:
        points.pop()  # an explicitly closed ring: the closing vertex is implied
    if len(points) > MAX_MASK_VERTICES:
        raise InvalidArgument(f"{field} has more than {MAX_MASK_VERTICES} vertices", field=field)
    for i, (x, y) in enumerate(points):
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1):
            where = f"{field}.vertices[{i}]"
            raise InvalidArgument(f"{where} must lie in 0..1, got ({x}, {y})", field=where)
    if len(set(points)) < 3:
        raise InvalidArgument(f"{field} needs at least 3 distinct vertices", field=field)
    if abs(_area(points)) < 1e-9 or _self_intersects(points):
        raise InvalidArgument(
            f"{field} does not close into a simple polygon (its edges cross or it has no area)",
            field=field,
        )


def _area(points: Sequence[tuple[float, float]]) -> float:
    n = len(points)
    return 0.5 * sum(
        points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
        for i in range(n)
    )


def _orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _self_intersects(points: Sequence[tuple[float, float]]) -> bool:
    """Whether two non-adjacent edges of the ring cross (or touch)."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # adjacent edges share a vertex
            (a, b), (c, d) = edges[i], edges[j]
            d1, d2 = _orient(c, d, a), _orient(c, d, b)
            d3, d4 = _orient(a, b, c), _orient(a, b, d)
            if (
                d1 * d2 <= 0
                and d3 * d4 <= 0
                and not (d1 == d2 == d3 == d4 == 0 and _apart(a, b, c, d))
            ):
                return True
    return False


def _apart(*pts: tuple[float, float]) -> bool:
    """For collinear edges: whether their projections are disjoint."""
    a, b, c, d = pts
    axis = 0 if abs(a[0] - b[0]) + abs(c[0] - d[0]) > 0 else 1
    lo1, hi1 = sorted((a[axis], b[axis]))
    lo2, hi2 = sorted((c[axis], d[axis]))
    return hi1 < lo2 or hi2 < lo1


def field_of_view(fov: pb.FieldOfView, field: str) -> None:
    for name in ("heading_degrees", "angle_degrees", "range_meters"):
        _finite(getattr(fov, name), f"{field}.{name}")
    if not 0 <= fov.heading_degrees < 360:
        raise InvalidArgument(
            f"{field}.heading_degrees must be 0 to <360", field=f"{field}.heading_degrees"
        )
    if not 0 < fov.angle_degrees <= 360:
        raise InvalidArgument(
            f"{field}.angle_degrees must be >0 to 360", field=f"{field}.angle_degrees"
        )
    if not 0 < fov.range_meters <= MAX_RANGE_M:
        raise InvalidArgument(
            f"{field}.range_meters must be >0 to {MAX_RANGE_M:g}", field=f"{field}.range_meters"
        )


def normalise_tags(tags: Iterable[str], field: str) -> list[str]:
    """Lower-case, de-duplicated, validated tags in their first-seen order."""
    seen: dict[str, None] = {}
    for i, tag in enumerate(tags):
        value = tag.strip().lower()
        if not _TAG.match(value):
            raise InvalidArgument(
                f"{field}[{i}] {tag!r} must be lower-case letters, digits and '-'",
                field=f"{field}[{i}]",
            )
        seen.setdefault(value)
    if len(seen) > MAX_TAGS:
        raise InvalidArgument(f"{field} has more than {MAX_TAGS} tags", field=field)
    return list(seen)


def camera(cam: pb.Camera, field: str = "camera") -> None:
    """A complete camera as it will be stored; normalises its tags in place."""
    check_id(cam.organization_id, "org", f"{field}.organization_id")
    text(cam.display_name, f"{field}.display_name", required=True)
    text(cam.external_id, f"{field}.external_id", limit=100)
    text(cam.address, f"{field}.address", limit=500)
    text(cam.vendor, f"{field}.vendor", limit=100)
    text(cam.model, f"{field}.model", limit=100)
    if not cam.HasField("location"):
        raise InvalidArgument(f"{field}.location is required", field=f"{field}.location")
    lat_lng(cam.location, f"{field}.location")
    if cam.HasField("field_of_view"):
        field_of_view(cam.field_of_view, f"{field}.field_of_view")
    streams = cam.streams
    if streams.sub_url and not streams.main_url:
        raise InvalidArgument(
            f"{field}.streams.main_url is required with a sub_url",
            field=f"{field}.streams.main_url",
        )
    if streams.main_url:
        rtsp_url(streams.main_url, f"{field}.streams.main_url")
    if streams.sub_url:
        rtsp_url(streams.sub_url, f"{field}.streams.sub_url")
    credentials = streams.credentials
    text(credentials.username, f"{field}.streams.credentials.username", limit=200)
    text(credentials.password, f"{field}.streams.credentials.password", limit=200)
    tags = normalise_tags(cam.tags, f"{field}.tags")
    del cam.tags[:]
    cam.tags.extend(tags)
    if len(cam.privacy_masks) > MAX_MASKS:
        raise InvalidArgument(
            f"{field}.privacy_masks has more than {MAX_MASKS}", field=f"{field}.privacy_masks"
        )
    for i, mask in enumerate(cam.privacy_masks):
        polygon(mask, f"{field}.privacy_masks[{i}]")
    recording(cam.recording_policy, f"{field}.recording_policy")


def recording(policy: pb.RecordingPolicy, field: str) -> None:
    if policy.mode not in pb.RecordingMode.values():
        raise InvalidArgument(f"{field}.mode {policy.mode} is unknown", field=f"{field}.mode")
    if not 0 <= policy.retention_days <= MAX_RETENTION_DAYS:
        raise InvalidArgument(
            f"{field}.retention_days must be 0 to {MAX_RETENTION_DAYS}",
            field=f"{field}.retention_days",
        )


def organization(org: pb.Organization, field: str = "organization") -> None:
    text(org.display_name, f"{field}.display_name", required=True)
    if org.kind == pb.ORGANIZATION_KIND_UNSPECIFIED or org.kind not in pb.OrganizationKind.values():
        raise InvalidArgument(
            f"{field}.kind is required (agency, partner business, community)", field=f"{field}.kind"
        )
    if org.contact_email and not _EMAIL.match(org.contact_email):
        raise InvalidArgument(
            f"{field}.contact_email is not an e-mail address", field=f"{field}.contact_email"
        )
    text(org.contact_email, f"{field}.contact_email")


def update_mask(
    mask: field_mask_pb2.FieldMask, allowed: Iterable[str], field: str = "update_mask"
) -> list[str]:
    """The mask's paths, each one of ``allowed``; an empty mask is refused."""
    allowed_set = set(allowed)
    if not mask.paths:
        raise InvalidArgument(f"{field} is required: name the fields to change", field=field)
    for path in mask.paths:
        if path not in allowed_set:
            raise InvalidArgument(
                f"{field} path {path!r} cannot be changed; "
                f"allowed: {', '.join(sorted(allowed_set))}",
                field=field,
            )
    return list(mask.paths)


def time_zone(name: str, field: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(f"{field} {name!r} is not an IANA time zone", field=field) from None


def _minute_of_day(tod: pb.TimeOfDay, field: str) -> int:
    if not (0 <= tod.hours <= 24 and 0 <= tod.minutes <= 59) or (tod.hours == 24 and tod.minutes):
        raise InvalidArgument(f"{field} must be 00:00 to 24:00", field=field)
    return tod.hours * 60 + tod.minutes


def schedule(sched: pb.GrantSchedule, field: str) -> None:
    time_zone(sched.time_zone, f"{field}.time_zone")
    if not 1 <= len(sched.windows) <= 16:
        raise InvalidArgument(f"{field}.windows needs 1 to 16 windows", field=f"{field}.windows")
    for i, window in enumerate(sched.windows):
        where = f"{field}.windows[{i}]"
        for day in window.days:
            if day == pb.WEEKDAY_UNSPECIFIED or day not in pb.Weekday.values():
                raise InvalidArgument(f"{where}.days holds an unknown day", field=f"{where}.days")
        start = _minute_of_day(window.start, f"{where}.start")
        end = _minute_of_day(window.end, f"{where}.end")
        if start == 1440:
            raise InvalidArgument(f"{where}.start cannot be 24:00", field=f"{where}.start")
        if start == end:
            raise InvalidArgument(
                f"{where} starts and ends at the same time; omit the schedule for all day",
                field=f"{where}.end",
            )


def grant(g: pb.SharingGrant, field: str = "grant") -> None:
    """A complete grant as it will be stored (times against the clock are the caller's)."""
    grantor = check_id(g.grantor_organization_id, "org", f"{field}.grantor_organization_id")
    grantee = check_id(g.grantee_organization_id, "org", f"{field}.grantee_organization_id")
    if grantor == grantee:
        raise InvalidArgument(
            f"{field}.grantee_organization_id is the granting organisation: "
            "an organisation cannot grant access to itself",
            field=f"{field}.grantee_organization_id",
        )
    if not g.live and not g.recorded:
        raise InvalidArgument(f"{field} must grant live, recorded or both", field=f"{field}.live")
    if g.all_cameras == bool(g.camera_ids):
        raise InvalidArgument(
            f"{field} needs either all_cameras or a list of camera_ids, not both or neither",
            field=f"{field}.camera_ids",
        )
    if len(g.camera_ids) > MAX_GRANT_CAMERAS:
        raise InvalidArgument(
            f"{field}.camera_ids holds more than {MAX_GRANT_CAMERAS}", field=f"{field}.camera_ids"
        )
    for i, camera_id in enumerate(g.camera_ids):
        check_id(camera_id, "cam", f"{field}.camera_ids[{i}]")
    if len(set(g.camera_ids)) != len(g.camera_ids):
        raise InvalidArgument(f"{field}.camera_ids repeats a camera", field=f"{field}.camera_ids")
    if g.HasField("schedule"):
        schedule(g.schedule, f"{field}.schedule")
    if g.HasField("start_time") and g.HasField("expire_time"):
        if g.expire_time.ToNanoseconds() <= g.start_time.ToNanoseconds():
            raise InvalidArgument(
                f"{field}.expire_time must be after start_time", field=f"{field}.expire_time"
            )
    text(g.description, f"{field}.description", limit=500)
