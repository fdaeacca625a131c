"""Analytics rules: types, classes, zones, cameras, area, confidence and schedules."""

from __future__ import annotations

import datetime as dt

from rtcc.alerting import rules
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.common.v1 import common_pb2

MONDAY_NOON = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def rule(**trigger: object) -> pb.Rule:
    return pb.Rule(
        display_name="Yard", enabled=True, analytics_event=pb.AnalyticsEventTrigger(**trigger)
    )  # type: ignore[arg-type]


def event(**fields: object) -> apb.Event:
    base = {
        "id": "evt_1",
        "camera_id": "cam_1",
        "type": apb.EVENT_TYPE_ZONE_ENTERED,
        "object_class": apb.OBJECT_CLASS_PERSON,
        "zone_id": "yard",
        "confidence": 0.8,
    }
    base.update(fields)
    out = apb.Event(**base)  # type: ignore[arg-type]
    out.location.latitude, out.location.longitude = 41.0, -87.0
    return out


def test_zone_intrusion_by_a_person_matches_and_other_things_do_not() -> None:
    r = rule(
        types=[apb.EVENT_TYPE_ZONE_ENTERED],
        classes=[apb.OBJECT_CLASS_PERSON],
        zone_ids=["yard"],
        min_confidence=0.5,
    )
    assert rules.matches(r, event(), MONDAY_NOON)
    assert not rules.matches(r, event(zone_id="street"), MONDAY_NOON)
    assert not rules.matches(r, event(type=apb.EVENT_TYPE_LOITERING), MONDAY_NOON)
    assert not rules.matches(r, event(object_class=apb.OBJECT_CLASS_VEHICLE), MONDAY_NOON)
    assert not rules.matches(r, event(confidence=0.3), MONDAY_NOON)
    assert rules.title(r, event()) == "Yard: person entered zone yard"


def test_cameras_area_and_schedule_limit_a_rule() -> None:
    r = rule(camera_ids=["cam_1"])
    r.area.CopyFrom(
        common_pb2.GeoCircle(
            center=common_pb2.LatLng(latitude=41.0, longitude=-87.0), radius_meters=100
        )
    )
    assert rules.matches(r, event(), MONDAY_NOON)
    assert not rules.matches(r, event(camera_id="cam_2"), MONDAY_NOON)
    far = event()
    far.location.latitude = 41.01
    assert not rules.matches(r, far, MONDAY_NOON)
    night = common_pb2.WeeklySchedule(
        windows=[common_pb2.ScheduleWindow(start_minute=22 * 60, end_minute=6 * 60)]
    )
    r.schedule.CopyFrom(night)
    assert not rules.matches(r, event(), MONDAY_NOON)
    assert rules.matches(r, event(), MONDAY_NOON.replace(hour=23))


def test_disabled_rules_never_match() -> None:
    r = rule()
    r.enabled = False
    assert not rules.matches(r, event(), MONDAY_NOON)
