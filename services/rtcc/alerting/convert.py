"""Records to the wire (rtcc.alerting.v1) and to the console's JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from rtcc.alerting import lifecycle
from rtcc.alerting.records import (
    AlertRecord,
    ExternalEventRecord,
    HitRecord,
    HoldRecord,
    HotlistRecord,
)
from rtcc.alerting.v1 import alerting_pb2 as pb


def ts(value: dt.datetime | str | None) -> timestamp_pb2.Timestamp | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def _set_ts(message: Any, name: str, value: dt.datetime | str | None) -> None:
    stamp = ts(value)
    if stamp is not None:
        getattr(message, name).CopyFrom(stamp)


def alert(record: AlertRecord) -> pb.Alert:
    out = pb.Alert(
        id=record.id,
        organization_id=record.organization_id,
        rule_id=record.rule_id,
        title=record.title,
        severity=record.severity,  # type: ignore[arg-type]
        state=record.state,  # type: ignore[arg-type]
        trigger_count=record.trigger_count,
        assignee=record.assignee,
        outcome=record.outcome,  # type: ignore[arg-type]
        etag=record.etag,
        kind=record.kind,  # type: ignore[arg-type]
        assigned_unit=record.assigned_unit,
        escalation_level=record.escalation_level,
        merged_into_alert_id=record.merged_into,
        sequence=record.sequence,
        source=record.source,
        source_event_id=record.source_event_id,
        dismiss_reason=record.dismiss_reason,
    )
    if record.latitude is not None and record.longitude is not None:
        out.location.latitude, out.location.longitude = record.latitude, record.longitude
    for t in record.triggers:
        trigger = out.triggers.add(camera_id=t.get("camera_id", ""))
        kind, ref = t.get("kind"), t.get("id", "")
        if kind == "event":
            trigger.event_id = ref
        elif kind == "plate_read":
            trigger.plate_read_id = ref
        else:
            trigger.external_event_id = ref
        _set_ts(trigger, "trigger_time", t.get("time"))
    for n in record.notes:
        note = out.notes.add(text=n.get("text", ""), state=n.get("state", 0))
        note.author.subject, note.author.organization_id = n.get("subject", ""), n.get("org", "")
        _set_ts(note, "create_time", n.get("time"))
    for name in (
        "first_trigger_time",
        "last_trigger_time",
        "create_time",
        "acknowledge_time",
        "resolve_time",
        "update_time",
    ):
        _set_ts(out, name, getattr(record, name))
    c = record.correlation or {}
    cameras = c.get("cameras") or []
    summary = out.correlation
    summary.camera_count = len(cameras)
    summary.in_view_count = sum(1 for cam in cameras if cam.get("in_view"))
    summary.plate_read_count = len(c.get("reads") or [])
    summary.prior_alert_count = len(c.get("prior_alert_ids") or [])
    summary.top_camera_ids.extend(cam["camera_id"] for cam in cameras[:5])
    summary.hold_ids.extend(c.get("hold_ids") or [])
    _set_ts(summary, "correlate_time", c.get("correlate_time"))
    return out


def external_event(record: ExternalEventRecord) -> pb.ExternalEvent:
    out = pb.ExternalEvent(
        id=record.id,
        organization_id=record.organization_id,
        type=record.type,  # type: ignore[arg-type]
        source=record.source,
        source_event_id=record.source_event_id,
        location_accuracy_meters=record.accuracy_m,
        address=record.address,
        summary=record.summary,
    )
    if record.latitude is not None and record.longitude is not None:
        out.location.latitude, out.location.longitude = record.latitude, record.longitude
    _set_ts(out, "event_time", record.event_time)
    _set_ts(out, "receive_time", record.receive_time)
    details = struct_pb2.Struct()
    details.update(
        {
            **_jsonable(record.details),
            "revision": record.revision,
            "status": record.status,
            "raw_sha256": record.raw_sha256,
            "alert_id": record.alert_id,
        }
    )
    out.details.CopyFrom(details)
    return out


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if isinstance(v, (str, int, float, bool, list, dict))}


def hold(record: HoldRecord) -> pb.RecordingHold:
    out = pb.RecordingHold(
        id=record.id,
        organization_id=record.organization_id,
        camera_id=record.camera_id,
        holder_type=record.holder_type,
        holder_id=record.holder_id,
        reason=record.reason,
        release_reason=record.release_reason,
    )
    for name in ("start_time", "end_time", "create_time", "release_time"):
        _set_ts(out, name, getattr(record, name))
    if record.released_by:
        out.released_by.subject = record.released_by
        out.released_by.organization_id = record.released_by_org
    return out


def hotlist(record: HotlistRecord) -> pb.Hotlist:
    out = pb.Hotlist(
        id=record.id,
        organization_id=record.organization_id,
        display_name=record.display_name,
        source_url=record.source_url,
        delimiter=record.delimiter,
        entry_count=record.entry_count,
        last_error=record.last_error,
        severity=record.severity,  # type: ignore[arg-type]
        max_substitutions=record.max_substitutions,
    )
    if record.refresh_s:
        out.refresh_interval.FromSeconds(record.refresh_s)
    if record.max_age_s:
        out.max_age.FromSeconds(record.max_age_s)
    _set_ts(out, "import_time", record.import_time)
    return out


def hit(record: HitRecord) -> pb.HotlistHit:
    e = record.entry
    out = pb.HotlistHit(
        id=record.id,
        hotlist_id=record.hotlist_id,
        plate_read_id=record.plate_read_id,
        read_plate=record.read_plate,
        camera_id=record.camera_id,
        match_type=record.match_type,  # type: ignore[arg-type]
        substitutions=record.substitutions,  # type: ignore[arg-type]
        state=record.state,  # type: ignore[arg-type]
        verify_note=record.verify_note,
        alert_id=record.alert_id,  # type: ignore[arg-type]
        entry=pb.HotlistEntry(
            plate=e.get("plate", ""),
            plate_state=e.get("plate_state", ""),
            category=e.get("category", ""),
            line=e.get("line", 0),
        ),
    )
    _set_ts(out.entry, "effective_time", e.get("effective_time"))
    _set_ts(out.entry, "expire_time", e.get("expire_time"))
    _set_ts(out, "read_time", record.read_time)
    _set_ts(out, "verify_time", record.verify_time)
    if record.verifier_subject:
        out.verifier.subject = record.verifier_subject
        out.verifier.organization_id = record.verifier_org
    if record.latitude is not None and record.longitude is not None:
        out.location.latitude, out.location.longitude = record.latitude, record.longitude
    return out


def alert_json(record: AlertRecord) -> dict[str, Any]:
    """The console's alert: the record's fields, times as RFC 3339."""
    return {
        "id": record.id,
        "kind": record.kind,
        "title": record.title,
        "severity": record.severity,
        "state": lifecycle.STATE_NAMES.get(record.state, "?"),
        "latitude": record.latitude,
        "longitude": record.longitude,
        "source": record.source,
        "source_event_id": record.source_event_id,
        "trigger_count": record.trigger_count,
        "assignee": record.assignee,
        "unit": record.assigned_unit,
        "escalation_level": record.escalation_level,
        "first_trigger_time": record.first_trigger_time.isoformat(),
        "create_time": record.create_time.isoformat() if record.create_time else None,
        "update_time": record.update_time.isoformat() if record.update_time else None,
        "notes": record.notes,
        "etag": record.etag,
        "sequence": record.sequence,
        "merged_into": record.merged_into,
        "dismiss_reason": record.dismiss_reason,
        "details": _jsonable(record.details),
    }
