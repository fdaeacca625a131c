"""The segment API: get, list, locate, and read a time range as one MP4."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.clients import What
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import Principal
from rtcc.core.errors import InvalidArgument, NotFound
from rtcc.ingest import convert
from rtcc.ingest.context import IngestContext
from rtcc.ingest.readrange import SegmentMedia, join_segments
from rtcc.ingest.segment import BUCKET, CONTENT_TYPE, find_gaps
from rtcc.ingest.v1 import ingest_pb2 as pb

MAX_READ = dt.timedelta(hours=1)


def _camera(camera_id: str) -> str:
    if not camera_id:
        raise InvalidArgument("camera_id is required", field="camera_id")
    return camera_id


async def get_segment(
    ctx: IngestContext, who: Principal, request: pb.GetSegmentRequest
) -> pb.GetSegmentResponse:
    seg = await ctx.index.get(request.segment_id)
    if seg is None:
        raise NotFound(f"segment {request.segment_id} does not exist")
    await ctx.access.require(who, seg.camera_id, What.RECORDED_VIDEO, at=seg.start_time)
    return pb.GetSegmentResponse(segment=convert.segment(seg))


async def list_segments(
    ctx: IngestContext, who: Principal, request: pb.ListSegmentsRequest
) -> pb.ListSegmentsResponse:
    camera_id, stream = _camera(request.camera_id), convert.stream_of(request.stream)
    if not request.time_range.HasField("start_time"):
        raise InvalidArgument("time_range.start_time is required", field="time_range")
    granted = await ctx.access.require(who, camera_id, What.RECORDED_VIDEO)
    start = convert.to_datetime(request.time_range.start_time)
    if granted.recorded_since is not None:  # only what the grant covers is listed
        start = max(start, granted.recorded_since)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    if request.time_range.HasField("end_time"):
        end = convert.to_datetime(request.time_range.end_time)
    after = None
    if request.page_token:
        after = dt.datetime.fromisoformat(convert.decode_token(request.page_token, 1)[0])
    size = convert.page_size(request.page_size)
    rows = await ctx.index.overlapping(camera_id, stream, start, end, limit=size + 1, after=after)
    token = convert.encode_token(rows[size - 1].start_time.isoformat()) if len(rows) > size else ""
    return pb.ListSegmentsResponse(
        segments=[convert.segment(s) for s in rows[:size]], next_page_token=token
    )


async def locate_segment(
    ctx: IngestContext, who: Principal, request: pb.LocateSegmentRequest
) -> pb.LocateSegmentResponse:
    camera_id, stream = _camera(request.camera_id), convert.stream_of(request.stream)
    if not request.HasField("time"):
        raise InvalidArgument("time is required", field="time")
    when = convert.to_datetime(request.time)
    await ctx.access.require(who, camera_id, What.RECORDED_VIDEO, at=when)
    seg = await ctx.index.at_or_after(camera_id, stream, when)
    if seg is None:
        raise NotFound(f"camera {camera_id} has no recording at or after {when.isoformat()}")
    exact = seg.start_time <= when
    offset = (when - seg.start_time).total_seconds() if exact else 0.0
    return pb.LocateSegmentResponse(
        segment=convert.segment(seg), exact=exact, offset=convert.duration(offset)
    )


async def read_range(
    ctx: IngestContext, who: Principal, request: pb.ReadRangeRequest
) -> AsyncIterator[pb.ReadRangeResponse]:
    camera_id, stream = _camera(request.camera_id), convert.stream_of(request.stream)
    rng = request.time_range
    if not (rng.HasField("start_time") and rng.HasField("end_time")):
        raise InvalidArgument("time_range needs a start and an end", field="time_range")
    start, end = convert.to_datetime(rng.start_time), convert.to_datetime(rng.end_time)
    if not start < end <= start + MAX_READ:
        raise InvalidArgument("time_range must be non-empty and at most 1 hour", field="time_range")
    # The file is raw (unmasked) video of [start, end): recorded-of-instant-start.
    await ctx.access.require(who, camera_id, What.RECORDED_VIDEO, raw=True, at=start)
    rows = await ctx.index.overlapping(camera_id, stream, start, end)
    if not rows:
        raise NotFound(f"camera {camera_id} has no recording in the range")
    await _audit(ctx, who, camera_id, start, end)
    chunk = min(max(request.chunk_size_bytes or (1 << 20), 64 << 10), 4 << 20)
    with tempfile.TemporaryDirectory(prefix="rtcc-read-") as folder:
        parts = []
        for n, seg in enumerate(rows):  # one segment in memory at a time
            part = Path(folder) / f"{n}.mp4"
            await asyncio.to_thread(part.write_bytes, await ctx.objects.get(BUCKET, seg.object_key))
            parts.append(SegmentMedia(seg.start_time, part))
        path = Path(folder) / "range.mp4"
        joined = await asyncio.to_thread(join_segments, parts, start, end, path)
        gaps = find_gaps([(s.start_time, s.end_time) for s in rows], joined.start_time, end)
        info = pb.ReadRangeInfo(
            content_type=CONTENT_TYPE,
            start_time=convert.ts(joined.start_time),
            end_time=convert.ts(joined.end_time),
            gaps=[
                common_pb2.TimeRange(
                    start_time=convert.ts(g.start_time), end_time=convert.ts(g.end_time)
                )
                for g in gaps
            ],
            segment_ids=[s.id for s in rows],
        )
        with path.open("rb") as handle:
            first = True
            while data := await asyncio.to_thread(handle.read, chunk):
                yield pb.ReadRangeResponse(info=info if first else None, data=data)
                first = False


async def _audit(
    ctx: IngestContext, who: Principal, camera_id: str, start: dt.datetime, end: dt.datetime
) -> None:
    entry = AuditEntry(
        actor_subject=who.subject,
        actor_org_id=who.org_id,
        action="recording.read",
        resource_type="camera",
        resource_id=camera_id,
        after={"start_time": start.isoformat(), "end_time": end.isoformat()},
    )
    async with ctx.db.transaction() as conn:
        await append_audit(conn, entry)
