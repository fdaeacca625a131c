"""Rows of the evidence tables as v1 messages, and clip sources both ways."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import json_format, struct_pb2
from sqlalchemy.engine import Row

from rtcc.common import time as wire_time
from rtcc.common.v1 import common_pb2
from rtcc.core.errors import InvalidArgument
from rtcc.evidence.v1 import evidence_pb2 as pb

ts = wire_time.to_timestamp
MAX_CLIP = dt.timedelta(hours=24)


def actor(subject: str, org_id: str) -> common_pb2.Actor:
    return common_pb2.Actor(subject=subject, organization_id=org_id)


def hold(row: Row[Any]) -> pb.LegalHold:
    return pb.LegalHold(
        active=row.hold_active, reason=row.hold_reason,
        actor=actor(row.hold_subject, row.hold_org_id) if row.hold_subject else None,
        update_time=ts(row.hold_time),
    )  # fmt: skip


def case(row: Row[Any], item_count: int = 0) -> pb.Case:
    return pb.Case(
        id=row.id, organization_id=row.organization_id, case_number=row.case_number or "",
        title=row.title, description=row.description, state=row.state,
        members=list(row.members), legal_hold=hold(row), item_count=item_count,
        creator=actor(row.creator_subject, row.creator_org_id),
        create_time=ts(row.create_time), update_time=ts(row.update_time),
        close_time=ts(row.close_time), etag=row.etag, case_type=row.case_type,
        retention_category=row.retention_category,
        linked_alert_ids=list(row.linked_alert_ids),
        linked_incident_ids=list(row.linked_incident_ids),
    )  # fmt: skip


def clip_json(source: pb.ClipSource) -> dict[str, Any]:
    """A validated clip source as stored: camera, stream, aware start and end."""
    if not source.camera_id:
        raise InvalidArgument("the clip needs a camera_id", field="clip.camera_id")
    rng = source.time_range
    if not (rng.HasField("start_time") and rng.HasField("end_time")):
        raise InvalidArgument("the clip needs a start and an end time", field="clip.time_range")
    start, end = wire_time.to_datetime(rng.start_time), wire_time.to_datetime(rng.end_time)
    if not start < end:
        raise InvalidArgument("the clip's end must be after its start", field="clip.time_range")
    if end - start > MAX_CLIP:
        raise InvalidArgument("a clip is at most 24 hours long", field="clip.time_range")
    if start > dt.datetime.now(dt.UTC):
        raise InvalidArgument("the clip starts in the future", field="clip.time_range")
    return {"camera_id": source.camera_id, "stream": source.stream or 1, "start": start, "end": end}


def clip_source(data: dict[str, Any]) -> pb.ClipSource:
    start, end = data["start"], data["end"]
    if isinstance(start, str):
        start, end = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
    return pb.ClipSource(
        camera_id=data["camera_id"], stream=int(data.get("stream", 1)),  # type: ignore[arg-type]
        time_range=common_pb2.TimeRange(start_time=ts(start), end_time=ts(end)),
    )  # fmt: skip


def stored_clip(data: dict[str, Any]) -> dict[str, Any]:
    """A clip dict as JSON (times as ISO text)."""
    return {**data, "start": data["start"].isoformat(), "end": data["end"].isoformat()}


def item(row: Row[Any]) -> pb.Item:
    message = pb.Item(
        id=row.id, case_id=row.case_id, kind=row.kind, display_name=row.display_name,
        description=row.description, state=row.state, content_type=row.content_type,
        size_bytes=row.size_bytes, sha256=row.sha256, export_job_id=row.export_job_id,
        creator=actor(row.creator_subject, row.creator_org_id),
        create_time=ts(row.create_time), update_time=ts(row.update_time), etag=row.etag,
        legal_hold=hold(row), retention_category=row.retention_category,
        retain_until=ts(row.retain_until),
    )  # fmt: skip
    source = dict(row.source)
    kind = source.pop("kind", "")
    if kind == "clip":
        message.clip.CopyFrom(clip_source(source))
    elif kind == "snapshot":
        message.snapshot.camera_id = source["camera_id"]
        wire_time.set_timestamp(
            message.snapshot.capture_time, dt.datetime.fromisoformat(source["capture_time"])
        )
    elif kind == "event":
        message.event.event_id = source["event_id"]
    elif kind == "plate_read":
        message.plate_read.plate_read_id = source["plate_read_id"]
    elif kind == "file":
        message.file.file_name = source["file_name"]
    elif kind == "note":
        message.note.text = source["text"]
    if row.source_record:
        record = struct_pb2.Struct()
        record.update(row.source_record)
        message.source_record.CopyFrom(record)
    return message


def job(row: Row[Any]) -> pb.ExportJob:
    return pb.ExportJob(
        id=row.id, case_id=row.case_id, item_id=row.item_id,
        clip=clip_source({"camera_id": row.camera_id, "stream": row.stream,
                          "start": row.range_start, "end": row.range_end}),
        state=row.state, progress=row.progress, bytes_written=row.bytes_written,
        gaps=[
            common_pb2.TimeRange(
                start_time=ts(dt.datetime.fromisoformat(g["start_time"])),
                end_time=ts(dt.datetime.fromisoformat(g["end_time"])),
            )
            for g in row.gaps
        ],
        error=row.error, creator=actor(row.creator_subject, row.creator_org_id),
        create_time=ts(row.create_time), start_time=ts(row.start_time),
        end_time=ts(row.end_time),
    )  # fmt: skip


def share_state(row: Row[Any], now: dt.datetime) -> int:
    if row.revoked:
        return pb.SHARE_LINK_STATE_REVOKED
    if row.expire_time <= now:
        return pb.SHARE_LINK_STATE_EXPIRED
    return pb.SHARE_LINK_STATE_ACTIVE


def share_link(row: Row[Any], now: dt.datetime) -> pb.ShareLink:
    return pb.ShareLink(
        id=row.id, case_id=row.case_id, item_ids=list(row.item_ids), recipient=row.recipient,
        expire_time=ts(row.expire_time), allow_download=row.allow_download,
        password_protected=bool(row.password_hash), state=share_state(row, now),  # type: ignore[arg-type]
        access_count=row.access_count, last_access_time=ts(row.last_access_time),
        creator=actor(row.creator_subject, row.creator_org_id),
        create_time=ts(row.create_time), revoke_time=ts(row.revoke_time),
        revoke_reason=row.revoke_reason, recipient_email=row.recipient_email,
    )  # fmt: skip


def evidence_request(row: Row[Any]) -> pb.EvidenceRequest:
    return pb.EvidenceRequest(
        id=row.id, case_id=row.case_id, requester_organization_id=row.requester_organization_id,
        partner_organization_id=row.partner_organization_id,
        clips=[clip_source(c) for c in row.clips], reason=row.reason,
        due_time=ts(row.due_time), state=row.state, decision=row.decision,
        approved_clips=[clip_source(c) for c in row.approved_clips],
        response_note=row.response_note, item_ids=list(row.item_ids),
        creator=actor(row.creator_subject, row.creator_org_id),
        responder=actor(row.responder_subject, row.responder_org_id)
        if row.responder_subject else None,
        create_time=ts(row.create_time), respond_time=ts(row.respond_time), etag=row.etag,
        partner_contact_email=row.partner_contact_email,
        link_expire_time=ts(row.link_expire_time),
    )  # fmt: skip


def entry(case_id: str, sequence: int, canonical: bytes, digest: str) -> pb.CustodyEntry:
    """A stored entry back as its message: its canonical JSON is the proto3 JSON."""
    message = pb.CustodyEntry()
    json_format.Parse(canonical, message)
    message.entry_hash = digest
    return message
