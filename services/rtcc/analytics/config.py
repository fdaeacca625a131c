"""Detector configuration: validation, defaults and mapping to the rule domain. Pure.

A camera's ``DetectorConfig`` is validated as a whole (after a field mask is applied),
zone and line ids are assigned where missing, and it is turned into the zones, lines
and masks a ``CameraAnalyser`` runs with.
"""

from __future__ import annotations

from datetime import timedelta

from rtcc.analytics.detection import ObjectClass
from rtcc.analytics.geometry import Polygon, normalised_polygon
from rtcc.analytics.rules import Direction, Line, Zone
from rtcc.analytics.schedule import Schedule, Window
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.common.v1 import common_pb2
from rtcc.core.errors import InvalidArgument
from rtcc.core.ids import new_id

DEFAULT_FPS = 5.0
MAX_FPS = 30.0
DEFAULT_MIN_CONFIDENCE = 0.5
MAX_ZONES = 32
MAX_LINES = 32
MUTABLE_FIELDS = (
    "enabled",
    "detectors",
    "stream",
    "fps",
    "min_confidence",
    "zones",
    "lines",
    "exclusions",
    "redact_faces",
)
_CLASSES: dict[int, ObjectClass] = {
    pb.OBJECT_CLASS_PERSON: ObjectClass.PERSON,
    pb.OBJECT_CLASS_VEHICLE: ObjectClass.VEHICLE,
    pb.OBJECT_CLASS_BICYCLE: ObjectClass.BICYCLE,
    pb.OBJECT_CLASS_LICENSE_PLATE: ObjectClass.LICENSE_PLATE,
    pb.OBJECT_CLASS_FACE: ObjectClass.FACE,
}
_DIRECTIONS: dict[int, Direction] = {
    pb.LINE_DIRECTION_UNSPECIFIED: Direction.ANY,
    pb.LINE_DIRECTION_ANY: Direction.ANY,
    pb.LINE_DIRECTION_LEFT_TO_RIGHT: Direction.LEFT_TO_RIGHT,
    pb.LINE_DIRECTION_RIGHT_TO_LEFT: Direction.RIGHT_TO_LEFT,
}


def default_config(camera_id: str) -> pb.DetectorConfig:
    return pb.DetectorConfig(camera_id=camera_id, enabled=False)


def merge(
    stored: pb.DetectorConfig, update: pb.DetectorConfig, paths: list[str]
) -> pb.DetectorConfig:
    """``stored`` with the fields named in ``paths`` taken from ``update`` (all when empty)."""
    unknown = sorted(set(paths) - set(MUTABLE_FIELDS))
    if unknown:
        raise InvalidArgument(
            f"update_mask names unknown or output-only fields: {', '.join(unknown)}",
            field="update_mask",
        )
    merged = pb.DetectorConfig()
    merged.CopyFrom(stored)
    for name in paths or MUTABLE_FIELDS:
        merged.ClearField(name)  # type: ignore[arg-type]
        if name in ("detectors", "zones", "lines", "exclusions"):
            getattr(merged, name).extend(getattr(update, name))
        else:
            setattr(merged, name, getattr(update, name))
    return merged


def validate(config: pb.DetectorConfig) -> pb.DetectorConfig:
    """Check every field and assign missing zone and line ids; returns the config."""
    if not 0 <= config.fps <= MAX_FPS:
        raise InvalidArgument(f"fps must be 0 to {MAX_FPS:g}", field="detector_config.fps")
    if not 0 <= config.min_confidence <= 1:
        raise InvalidArgument(
            "min_confidence must be 0 to 1", field="detector_config.min_confidence"
        )
    if len(config.zones) > MAX_ZONES or len(config.lines) > MAX_LINES:
        raise InvalidArgument(f"at most {MAX_ZONES} zones and {MAX_LINES} lines per camera")
    for i, zone in enumerate(config.zones):
        _polygon(zone.polygon, f"detector_config.zones[{i}].polygon")
        if zone.loiter_dwell.ToTimedelta() < timedelta(0):
            raise InvalidArgument(
                "loiter_dwell must not be negative", field=f"detector_config.zones[{i}]"
            )
        _schedule(zone.schedule, f"detector_config.zones[{i}].schedule")
        zone.id = zone.id or new_id("zon")
    for i, line in enumerate(config.lines):
        where = f"detector_config.lines[{i}]"
        points = [(line.start.x, line.start.y), (line.end.x, line.end.y)]
        if any(not (0 <= v <= 1) for p in points for v in p) or points[0] == points[1]:
            raise InvalidArgument(
                "a line needs two distinct points inside the frame (0 to 1)", field=where
            )
        _schedule(line.schedule, f"{where}.schedule")
        line.id = line.id or new_id("lin")
    for i, polygon in enumerate(config.exclusions):
        _polygon(polygon, f"detector_config.exclusions[{i}]")
    return config


def _polygon(polygon: common_pb2.ImagePolygon, field: str) -> Polygon:
    return normalised_polygon([(v.x, v.y) for v in polygon.vertices], field=field)


def _schedule(schedule: common_pb2.WeeklySchedule, field: str) -> Schedule | None:
    if not schedule.windows and not schedule.time_zone:
        return None
    windows = []
    for window in schedule.windows:
        if not (0 <= window.start_minute <= 1439 and 1 <= window.end_minute <= 1440):
            raise InvalidArgument(
                "schedule minutes must be 0..1439 (start), 1..1440 (end)", field=field
            )
        windows.append(
            Window(frozenset(int(d) for d in window.days), window.start_minute, window.end_minute)
        )
    return Schedule(schedule.time_zone, tuple(windows))


def _dwell(zone: pb.Zone) -> timedelta | None:
    dwell = zone.loiter_dwell.ToTimedelta()
    return dwell if dwell > timedelta(0) else None


def _classes(values: list[int]) -> frozenset[ObjectClass]:
    return frozenset(_CLASSES[v] for v in values if v in _CLASSES)


def zones(config: pb.DetectorConfig) -> tuple[Zone, ...]:
    return tuple(
        Zone(
            zone.id,
            _polygon(zone.polygon, "zone"),
            _classes(list(zone.classes)),
            zone.loiter_dwell.ToTimedelta()
            if zone.HasField("loiter_dwell") and zone.loiter_dwell.ToTimedelta() > timedelta(0)
            else None,
            _schedule(zone.schedule, "zone.schedule"),
        )
        for zone in config.zones
    )


def lines(config: pb.DetectorConfig) -> tuple[Line, ...]:
    return tuple(
        Line(
            line.id,
            (line.start.x, line.start.y),
            (line.end.x, line.end.y),
            _DIRECTIONS.get(line.direction, Direction.ANY),
            _classes(list(line.classes)),
            _schedule(line.schedule, "line.schedule"),
        )
        for line in config.lines
    )


def masks(
    config: pb.DetectorConfig, privacy_masks: list[common_pb2.ImagePolygon]
) -> tuple[Polygon, ...]:
    """The config's exclusions plus the camera's privacy masks from the registry."""
    return tuple(_polygon(p, "mask") for p in [*config.exclusions, *privacy_masks])
