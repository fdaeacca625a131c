"""Translations between the ingest domain values and the wire messages. Pure."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2

from rtcc.common import paging
from rtcc.common import time as wire_time
from rtcc.core.errors import InvalidArgument
from rtcc.ingest.fanout import LivePacket, TrackInfo
from rtcc.ingest.health import StreamHealth
from rtcc.ingest.leases import Lease
from rtcc.ingest.segment import MAIN, SUB
from rtcc.ingest.status_store import StatusRow
from rtcc.ingest.store import StoredSegment
from rtcc.ingest.v1 import ingest_pb2 as pb


def ts(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    return wire_time.to_timestamp(value)


def to_datetime(value: timestamp_pb2.Timestamp) -> dt.datetime:
    return wire_time.to_datetime(value)


def duration(seconds: float) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromTimedelta(dt.timedelta(seconds=seconds))
    return out


def stream_of(value: int) -> int:
    """The stream a request means: unspecified is the main stream."""
    if value not in (0, MAIN, SUB):
        raise InvalidArgument(f"stream {value} is not a camera stream", field="stream")
    return value or MAIN


def segment(seg: StoredSegment) -> pb.Segment:
    return pb.Segment(
        id=seg.id,
        camera_id=seg.camera_id,
        stream=seg.stream,  # type: ignore[arg-type]
        start_time=ts(seg.start_time),
        end_time=ts(seg.end_time),
        object_key=seg.object_key,
        content_type=seg.content_type,
        size_bytes=seg.size_bytes,
        sha256=seg.sha256,
        video_codec=seg.video_codec,
        width=seg.width,
        height=seg.height,
        frame_rate=seg.frame_rate,
        create_time=ts(seg.create_time),
        expire_time=ts(seg.expire_time),
    )


def lease(value: Lease) -> pb.CameraLease:
    return pb.CameraLease(
        camera_id=value.camera_id,
        pool=value.pool,  # type: ignore[arg-type]
        replica_id=value.replica_id,
        epoch=value.epoch,
        acquire_time=ts(value.acquire_time),
        renew_time=ts(value.renew_time),
        expire_time=ts(value.expire_time),
        address=value.address,
    )


def status(row: StatusRow, *, subscribers: int = 0) -> pb.StreamStatus:
    return pb.StreamStatus(
        camera_id=row.camera_id,
        stream=row.stream,  # type: ignore[arg-type]
        state=row.state,  # type: ignore[arg-type]
        replica_id=row.replica_id,
        fps=row.fps,
        bitrate_bps=row.bitrate_bps,
        recording=row.recording,
        last_error=row.last_error,
        last_error_time=ts(row.last_error_time),
        last_packet_time=ts(row.last_packet_time),
        state_change_time=ts(row.state_change_time),
        reconnect_count=row.reconnect_count,
        subscriber_count=subscribers,
    )


def live_status(
    camera_id: str, stream: int, replica_id: str, health: StreamHealth, subscribers: int
) -> pb.StreamStatus:
    row = StatusRow(
        camera_id, stream, health.state, replica_id, health.fps, health.bitrate_bps,
        health.recording, health.last_error, health.last_error_time, health.last_packet_time,
        health.state_change_time, health.reconnect_count, dt.datetime.now(dt.UTC),
    )  # fmt: skip
    return status(row, subscribers=subscribers)


def tracks(info: TrackInfo) -> pb.StreamPacketsResponse:
    num, den = info.time_base
    params = pb.CodecParameters(
        track_index=0,
        media_type=pb.MEDIA_TYPE_VIDEO,
        codec=info.codec,
        profile=info.profile,
        extradata=info.extradata,
        time_base=pb.Rational(numerator=num, denominator=den),
        width=info.width,
        height=info.height,
        bit_rate=info.bit_rate,
    )
    return pb.StreamPacketsResponse(
        tracks=pb.StreamTracks(tracks=[params], discontinuity=info.discontinuity)
    )


def packet(value: LivePacket) -> pb.StreamPacketsResponse:
    return pb.StreamPacketsResponse(
        packet=pb.Packet(
            track_index=0,
            pts=value.pts,
            dts=value.dts,
            duration=value.duration,
            keyframe=value.keyframe,
            capture_time=ts(value.capture_time),
            data=value.data,
        )
    )


def page_size(requested: int, default: int = 100, cap: int = 1000) -> int:
    return paging.page_size(requested, default=default, cap=cap)


def encode_token(*parts: Any) -> str:
    return paging.encode_token("ingest", *parts)


def decode_token(token: str, count: int) -> list[str]:
    return paging.decode_token(token, "ingest", count)
