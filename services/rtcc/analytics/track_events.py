"""Build event and plate-read records from tracks, rule hits and plate reads. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rtcc.analytics.detection import Box, Detection
from rtcc.analytics.records import (
    CLASS_CODES,
    COLOR_CODES,
    DIRECTION_CODES,
    EVENT_TYPE_CODES,
    VEHICLE_TYPE_CODES,
    EventRecord,
    NormBox,
    PlateReadRecord,
)
from rtcc.analytics.rules import RuleEvent
from rtcc.analytics.tracker import Track
from rtcc.core.ids import new_id

if TYPE_CHECKING:
    from rtcc.analytics.analysis import CameraSetup


def normalise_box(box: Box, shape: tuple[int, ...]) -> NormBox:
    height, width = shape[0], shape[1]
    x1, y1, x2, y2 = box
    return (x1 / width, y1 / height, (x2 - x1) / width, (y2 - y1) / height)


def _attribute_codes(attributes: dict[str, str]) -> dict[str, Any]:
    return {
        "primary_color": COLOR_CODES.get(attributes.get("primary_color", ""), 0),
        "secondary_color": COLOR_CODES.get(attributes.get("secondary_color", ""), 0),
        "vehicle_type": VEHICLE_TYPE_CODES.get(attributes.get("vehicle_type", ""), 0),
        "attributes": dict(attributes),
    }


class EventFactory:
    """Event records for one camera; ids are minted here."""

    def __init__(self, setup: CameraSetup) -> None:
        self._setup = setup

    def _base(
        self, kind: str, track: Track, time: datetime, start: datetime, shape: tuple[int, ...]
    ) -> dict[str, Any]:
        return {
            "id": new_id("evt"),
            "camera_id": self._setup.camera_id,
            "organization_id": self._setup.organization_id,
            "type": EVENT_TYPE_CODES[kind],
            "object_class": CLASS_CODES.get(track.cls, 0),
            "track_id": str(track.id),
            "confidence": round(track.best_confidence, 4),
            "event_time": time,
            "start_time": start,
            "box": normalise_box(track.box, shape),
            "latitude": self._setup.latitude,
            "longitude": self._setup.longitude,
        }

    def track_event(
        self, kind: str, track: Track, shape: tuple[int, ...], attributes: dict[str, str]
    ) -> EventRecord:
        base = self._base(kind, track, track.last_time, track.start_time, shape)
        return EventRecord(**base, **_attribute_codes(attributes))

    def rule_event(
        self, rule: RuleEvent, track: Track, shape: tuple[int, ...], attributes: dict[str, str]
    ) -> EventRecord:
        base = self._base(rule.kind.value, track, rule.time, rule.start_time, shape)
        direction = DIRECTION_CODES[rule.direction.value] if rule.direction else 0
        return EventRecord(
            **base,
            **_attribute_codes(attributes),
            zone_id=rule.zone_id,
            line_id=rule.line_id,
            crossing_direction=direction,
        )

    def plate_event(
        self, track: Track, read: Detection, shape: tuple[int, ...], attributes: dict[str, str]
    ) -> tuple[EventRecord, PlateReadRecord]:
        base = self._base("plate_read", track, track.last_time, track.last_time, shape)
        event = EventRecord(**base, **_attribute_codes(attributes))
        event.confidence = round(read.confidence, 4)
        event.box = normalise_box(read.box, shape)
        plate = PlateReadRecord(
            id=new_id("plr"),
            camera_id=event.camera_id,
            organization_id=event.organization_id,
            read_time=event.event_time,
            plate=str(read.attributes["plate"]),
            characters=list(read.attributes["characters"]),
            confidence=round(read.confidence, 4),
            box=event.box,
            vehicle_attributes=dict(attributes),
            track_id=event.track_id,
            event_id=event.id,
            latitude=event.latitude,
            longitude=event.longitude,
        )
        event.plate_read_id = plate.id
        return event, plate
