"""Between the API's messages and the analytics records and queries."""

from __future__ import annotations

from datetime import datetime, timedelta

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from rtcc.analytics.plates import MatchMode
from rtcc.analytics.records import EventRecord, PlateMatch, PlateReadRecord
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.common import time as wire_time
from rtcc.common.v1 import common_pb2
from rtcc.core.errors import InvalidArgument

MODES = {
    pb.PLATE_MATCH_MODE_UNSPECIFIED: MatchMode.EXACT,
    pb.PLATE_MATCH_MODE_EXACT: MatchMode.EXACT,
    pb.PLATE_MATCH_MODE_PREFIX: MatchMode.PREFIX,
    pb.PLATE_MATCH_MODE_WILDCARD: MatchMode.WILDCARD,
    pb.PLATE_MATCH_MODE_FUZZY: MatchMode.FUZZY,
}


def timestamp(when: datetime | None) -> timestamp_pb2.Timestamp | None:
    return wire_time.to_timestamp(when)


def time_range(value: common_pb2.TimeRange, *, now: datetime) -> tuple[datetime, datetime]:
    """A required range; an unset end means now."""
    if not value.HasField("start_time"):
        raise InvalidArgument("time_range.start_time is required", field="time_range.start_time")
    start = wire_time.to_datetime(value.start_time, "time_range.start_time")
    end = (
        wire_time.to_datetime(value.end_time, "time_range.end_time")
        if value.HasField("end_time")
        else now
    )
    return start, end


DEFAULT_SNAPSHOT_TTL = timedelta(minutes=5)
MAX_SNAPSHOT_TTL = timedelta(hours=1)


def snapshot_ttl(value: duration_pb2.Duration | None) -> timedelta:
    """The requested URL lifetime, clamped to 1 s .. 1 h; 5 minutes when unset."""
    if value is None:
        return DEFAULT_SNAPSHOT_TTL
    try:
        ttl = value.ToTimedelta()
    except (ValueError, OverflowError):
        raise InvalidArgument("ttl is out of range; ask for 1 s to 1 h", field="ttl") from None
    return max(timedelta(seconds=1), min(ttl, MAX_SNAPSHOT_TTL))


def _box(box: tuple[float, float, float, float]) -> common_pb2.BoundingBox:
    x, y, w, h = box
    return common_pb2.BoundingBox(x=x, y=y, width=w, height=h)


def _location(lat: float | None, lng: float | None) -> common_pb2.LatLng | None:
    return None if lat is None or lng is None else common_pb2.LatLng(latitude=lat, longitude=lng)


def attributes(record: EventRecord) -> pb.ObjectAttributes:
    extra = struct_pb2.Struct()
    extra.update({k: v for k, v in record.attributes.items() if k not in _PLAIN})
    return pb.ObjectAttributes(
        primary_color=record.primary_color,  # type: ignore[arg-type]
        secondary_color=record.secondary_color,  # type: ignore[arg-type]
        vehicle_type=record.vehicle_type,  # type: ignore[arg-type]
        extra=extra,
    )


_PLAIN = {"primary_color", "secondary_color", "vehicle_type"}


def event(record: EventRecord) -> pb.Event:
    return pb.Event(
        id=record.id,
        camera_id=record.camera_id,
        organization_id=record.organization_id,
        type=record.type,  # type: ignore[arg-type]
        object_class=record.object_class,  # type: ignore[arg-type]
        track_id=record.track_id,
        confidence=record.confidence,
        event_time=timestamp(record.event_time),
        start_time=timestamp(record.start_time),
        bounding_box=_box(record.box),
        attributes=attributes(record),
        zone_id=record.zone_id,
        line_id=record.line_id,
        crossing_direction=record.crossing_direction,  # type: ignore[arg-type]
        plate_read_id=record.plate_read_id,
        location=_location(record.latitude, record.longitude),
        has_snapshot=bool(record.snapshot_key),
        create_time=timestamp(record.create_time),
    )


def plate_read(record: PlateReadRecord) -> pb.PlateRead:
    from rtcc.analytics.plates import CONFUSIONS

    swaps = {**CONFUSIONS, **{v: k for k, v in CONFUSIONS.items()}}
    return pb.PlateRead(
        id=record.id,
        camera_id=record.camera_id,
        organization_id=record.organization_id,
        read_time=timestamp(record.read_time),
        plate=record.plate,
        characters=[
            pb.PlateCharacter(
                character=c, confidence=p, alternatives=[swaps[c]] if c in swaps else []
            )
            for c, p in record.characters
        ],
        confidence=record.confidence,
        region=record.region,
        plate_box=_box(record.box),
        track_id=record.track_id,
        event_id=record.event_id,
        location=_location(record.latitude, record.longitude),
        has_snapshot=bool(record.snapshot_key),
    )


def plate_match(match: PlateMatch) -> pb.PlateReadMatch:
    return pb.PlateReadMatch(
        plate_read=plate_read(match.read), edit_distance=match.edit_distance, score=match.score
    )
