"""What analytics stores: events and plate reads, as plain values.

Enumerations are kept as the API's numbers (``rtcc.analytics.v1`` enums), so the store
and the wire agree without a translation table per call; ``tests/unit/analytics``
checks these tables against the generated enums.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rtcc.analytics.attributes import COLOURS
from rtcc.analytics.detection import ObjectClass

# Normalised (0..1) x, y, width, height.
NormBox = tuple[float, float, float, float]

CLASS_CODES: dict[ObjectClass, int] = {
    ObjectClass.PERSON: 1,
    ObjectClass.VEHICLE: 2,
    ObjectClass.BICYCLE: 3,
    ObjectClass.LICENSE_PLATE: 4,
    ObjectClass.FACE: 5,
}
COLOR_CODES: dict[str, int] = {name: i + 1 for i, name in enumerate(COLOURS)}
VEHICLE_TYPE_CODES: dict[str, int] = {
    "car": 1, "suv": 2, "pickup": 3, "van": 4, "truck": 5, "bus": 6, "motorcycle": 7,
}  # fmt: skip
EVENT_TYPE_CODES: dict[str, int] = {
    "object_appeared": 1,
    "zone_entered": 2,
    "zone_exited": 3,
    "line_crossed": 4,
    "loitering": 5,
    "plate_read": 6,
    "face_detected": 7,
}
DIRECTION_CODES: dict[str, int] = {"any": 1, "left_to_right": 2, "right_to_left": 3}


@dataclass
class EventRecord:
    id: str
    camera_id: str
    organization_id: str
    type: int
    object_class: int
    track_id: str
    confidence: float
    event_time: datetime
    start_time: datetime
    box: NormBox
    primary_color: int = 0
    secondary_color: int = 0
    vehicle_type: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    zone_id: str = ""
    line_id: str = ""
    crossing_direction: int = 0
    plate_read_id: str = ""
    latitude: float | None = None
    longitude: float | None = None
    snapshot_key: str = ""
    create_time: datetime | None = None


@dataclass
class PlateReadRecord:
    id: str
    camera_id: str
    organization_id: str
    read_time: datetime
    plate: str
    characters: list[tuple[str, float]]
    confidence: float
    box: NormBox
    region: str = ""
    vehicle_attributes: dict[str, Any] = field(default_factory=dict)
    track_id: str = ""
    event_id: str = ""
    latitude: float | None = None
    longitude: float | None = None
    snapshot_key: str = ""


@dataclass(frozen=True)
class PlateMatch:
    read: PlateReadRecord
    edit_distance: int
    score: float
