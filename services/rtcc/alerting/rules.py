"""Which alert rules an analytics event triggers (zone intrusion, line crossing,
loitering, classes, cameras or an area, schedules, confidence). Pure.

Zone intrusion is an event of type ZONE_ENTERED (optionally in named zones), line
crossing LINE_CROSSED, loitering LOITERING: the analytics service decides those from
tracks; a rule picks the ones it cares about. Schedules use the platform's one
schedule type (``rtcc.common.schedule``).
"""

from __future__ import annotations

import datetime as dt

from rtcc.alerting.correlation import distance_m
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.common.schedule import Schedule, Window
from rtcc.common.v1 import common_pb2

DEFAULT_WINDOW = dt.timedelta(minutes=5)


def schedule_of(message: common_pb2.WeeklySchedule) -> Schedule:
    windows = tuple(
        Window(frozenset(int(d) for d in w.days), w.start_minute, w.end_minute)
        for w in message.windows
    )
    return Schedule(message.time_zone, windows)


def matches(rule: pb.Rule, event: apb.Event, when: dt.datetime) -> bool:
    """Whether ``event`` (seen at ``when``) triggers the enabled analytics rule."""
    if not rule.enabled or not rule.HasField("analytics_event"):
        return False
    trigger = rule.analytics_event
    if trigger.types and event.type not in trigger.types:
        return False
    if trigger.classes and event.object_class not in trigger.classes:
        return False
    if trigger.camera_ids and event.camera_id not in trigger.camera_ids:
        return False
    if trigger.zone_ids and event.zone_id not in trigger.zone_ids:
        return False
    if event.confidence < trigger.min_confidence:
        return False
    colors = trigger.attributes.colors
    if colors and not {event.attributes.primary_color, event.attributes.secondary_color} & set(
        colors
    ):
        return False
    if trigger.attributes.vehicle_types and (
        event.attributes.vehicle_type not in trigger.attributes.vehicle_types
    ):
        return False
    if rule.HasField("area") and rule.area.radius_meters > 0:
        if not event.HasField("location"):
            return False
        c = rule.area.center
        d = distance_m(c.latitude, c.longitude, event.location.latitude, event.location.longitude)
        if d > rule.area.radius_meters:
            return False
    if rule.HasField("schedule") and not schedule_of(rule.schedule).active(when):
        return False
    return True


def correlation_window(rule: pb.Rule) -> dt.timedelta:
    if rule.HasField("correlation_window") and rule.correlation_window.ToTimedelta():
        return rule.correlation_window.ToTimedelta()
    return DEFAULT_WINDOW


EVENT_WORDS = {
    apb.EVENT_TYPE_OBJECT_APPEARED: "appeared",
    apb.EVENT_TYPE_ZONE_ENTERED: "entered zone",
    apb.EVENT_TYPE_ZONE_EXITED: "left zone",
    apb.EVENT_TYPE_LINE_CROSSED: "crossed line",
    apb.EVENT_TYPE_LOITERING: "loitering",
    apb.EVENT_TYPE_PLATE_READ: "plate read",
    apb.EVENT_TYPE_FACE_DETECTED: "face detected",
}


def title(rule: pb.Rule, event: apb.Event) -> str:
    what = apb.ObjectClass.Name(event.object_class).removeprefix("OBJECT_CLASS_").lower()
    where = f" {event.zone_id or event.line_id}" if (event.zone_id or event.line_id) else ""
    return f"{rule.display_name}: {what} {EVENT_WORDS.get(event.type, 'event')}{where}"
