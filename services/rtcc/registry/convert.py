"""Translations between the wire messages and the registry's domain values. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import json_format, timestamp_pb2

from rtcc.common import time as wire_time
from rtcc.registry import access
from rtcc.registry.v1 import registry_pb2 as pb

_STATES = {
    access.GrantState.PENDING: pb.SHARING_GRANT_STATE_PENDING,
    access.GrantState.ACTIVE: pb.SHARING_GRANT_STATE_ACTIVE,
    access.GrantState.EXPIRED: pb.SHARING_GRANT_STATE_EXPIRED,
    access.GrantState.REVOKED: pb.SHARING_GRANT_STATE_REVOKED,
}


def to_datetime(ts: timestamp_pb2.Timestamp) -> datetime:
    return wire_time.to_datetime(ts)


def optional_time(message: Any, name: str) -> datetime | None:
    """A Timestamp field as a UTC datetime, None when unset."""
    return wire_time.optional_datetime(message, name)


def set_time(ts: timestamp_pb2.Timestamp, value: datetime | None) -> None:
    """Set a Timestamp from an aware datetime (a cheaper FromDatetime: hot on reads)."""
    wire_time.set_timestamp(ts, value)


def schedule_to_json(sched: pb.GrantSchedule) -> dict[str, Any]:
    return {
        "time_zone": sched.time_zone,
        "windows": [
            {
                "days": sorted(set(w.days)),
                "start": w.start.hours * 60 + w.start.minutes,
                "end": w.end.hours * 60 + w.end.minutes,
            }
            for w in sched.windows
        ],
    }


def schedule_from_json(data: dict[str, Any]) -> access.Schedule:
    windows = tuple(
        access.Window(frozenset(w["days"]), int(w["start"]), int(w["end"])) for w in data["windows"]
    )
    return access.Schedule(str(data["time_zone"]), windows)


def schedule_to_proto(data: dict[str, Any], out: pb.GrantSchedule) -> None:
    out.time_zone = data["time_zone"]
    for w in data["windows"]:
        window = out.windows.add()
        window.days.extend(w["days"])
        window.start.hours, window.start.minutes = divmod(int(w["start"]), 60)
        window.end.hours, window.end.minutes = divmod(int(w["end"]), 60)


def grant_state(grant: access.Grant, now: datetime) -> pb.SharingGrantState.ValueType:
    return _STATES[access.grant_state(grant, now)]


def access_to_proto(value: access.Access) -> pb.CameraAccess:
    in_window = value.owner or bool(value.grant_ids)
    out = pb.CameraAccess(
        owner=value.owner,
        live=value.live,
        recorded=value.recorded,
        grant_ids=value.grant_ids,
        health=in_window,
        analytics=in_window,
    )
    set_time(out.valid_until, value.valid_until)
    set_time(out.recorded_since, value.recorded_since)
    return out


def camera_spec(camera: pb.Camera) -> pb.Camera:
    """What is stored of a camera: its settings, without secrets or output-only fields."""
    spec = pb.Camera()
    spec.CopyFrom(camera)
    if spec.HasField("streams"):
        spec.streams.ClearField("credentials")
        spec.streams.ClearField("has_credentials")
    for name in ("health", "caller_access", "create_time", "update_time", "etag"):
        spec.ClearField(name)
    return spec


def camera_json(camera: pb.Camera) -> dict[str, Any]:
    """A camera for the audit log: settings only, never credentials."""
    return json_format.MessageToDict(camera_spec(camera), preserving_proto_field_name=True)


def grant_json(grant: pb.SharingGrant) -> dict[str, Any]:
    return json_format.MessageToDict(grant, preserving_proto_field_name=True)


def organization_json(org: pb.Organization) -> dict[str, Any]:
    return json_format.MessageToDict(org, preserving_proto_field_name=True)
