"""The stored enumeration numbers are the API's, and records convert to messages."""

from __future__ import annotations

from datetime import UTC, datetime

from rtcc.analytics import convert
from rtcc.analytics.records import (
    CLASS_CODES,
    COLOR_CODES,
    DIRECTION_CODES,
    EVENT_TYPE_CODES,
    VEHICLE_TYPE_CODES,
    EventRecord,
    PlateReadRecord,
)
from rtcc.analytics.v1 import analytics_pb2 as pb


def test_code_tables_match_the_api_enums() -> None:
    for cls, code in CLASS_CODES.items():
        assert pb.ObjectClass.Value(f"OBJECT_CLASS_{cls.name}") == code
    for name, code in COLOR_CODES.items():
        assert pb.Color.Value(f"COLOR_{name.upper()}") == code
    for name, code in VEHICLE_TYPE_CODES.items():
        assert pb.VehicleType.Value(f"VEHICLE_TYPE_{name.upper()}") == code
    for name, code in EVENT_TYPE_CODES.items():
        assert pb.EventType.Value(f"EVENT_TYPE_{name.upper()}") == code
    for name, code in DIRECTION_CODES.items():
        assert pb.LineDirection.Value(f"LINE_DIRECTION_{name.upper()}") == code


def test_records_convert_to_api_messages() -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    event = EventRecord(
        "evt_1", "cam_1", "org_1", 2, 1, "7", 0.8, when, when, (0.1, 0.2, 0.3, 0.4),
        primary_color=5, attributes={"primary_color": "red", "carrying_bag": True},
        zone_id="zon_1", snapshot_key="k",
    )  # fmt: skip
    message = convert.event(event)
    assert message.type == pb.EVENT_TYPE_ZONE_ENTERED
    assert message.attributes.primary_color == pb.COLOR_RED
    assert message.attributes.extra["carrying_bag"] is True
    assert message.has_snapshot and message.bounding_box.height == 0.4
    read = PlateReadRecord("plr_1", "cam_1", "org_1", when, "B05", [("B", 0.5)], 0.5, (0, 0, 1, 1))
    assert list(convert.plate_read(read).characters[0].alternatives) == ["8"]
