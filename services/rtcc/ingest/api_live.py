"""Live fan-out (packets, frames) and stream health."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from rtcc.core.auth import Principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound
from rtcc.ingest import convert
from rtcc.ingest.context import IngestContext
from rtcc.ingest.fanout import TrackInfo
from rtcc.ingest.frames import PIXEL_FORMATS
from rtcc.ingest.leases import INGEST_POOL
from rtcc.ingest.session import CameraSession
from rtcc.ingest.v1 import ingest_pb2 as pb


async def _session(ctx: IngestContext, camera_id: str, stream: int) -> CameraSession:
    if not camera_id:
        raise InvalidArgument("camera_id is required", field="camera_id")
    session = ctx.recorder.session(camera_id, stream)
    if session is not None:
        return session
    holders = await ctx.leases.unexpired(INGEST_POOL, dt.datetime.now(dt.UTC), camera_id=camera_id)
    if holders:
        raise FailedPrecondition(
            f"camera {camera_id} is connected through ingest replica {holders[0].replica_id}; "
            "ask that replica"
        )
    raise FailedPrecondition(f"camera {camera_id} stream {stream} is not connected")


async def stream_packets(
    ctx: IngestContext, who: Principal, request: pb.StreamPacketsRequest
) -> AsyncIterator[pb.StreamPacketsResponse]:
    stream = convert.stream_of(request.stream)
    await ctx.access.require(who, request.camera_id, recorded=False)
    session = await _session(ctx, request.camera_id, stream)
    subscription = session.packets.subscribe(from_last_keyframe=request.start_from_last_keyframe)
    async for item in subscription:
        if isinstance(item, TrackInfo):
            yield convert.tracks(item)
        else:
            yield convert.packet(item)


async def stream_frames(
    ctx: IngestContext, who: Principal, request: pb.StreamFramesRequest
) -> AsyncIterator[pb.StreamFramesResponse]:
    stream = convert.stream_of(request.stream)
    if request.pixel_format not in PIXEL_FORMATS:
        raise InvalidArgument("this pixel format is not offered", field="pixel_format")
    if request.fps < 0 or request.max_width < 0:
        raise InvalidArgument("fps and max_width must not be negative")
    if not 0 <= request.jpeg_quality <= 100:
        raise InvalidArgument("jpeg_quality must be 1 to 100 (0: 80)", field="jpeg_quality")
    await ctx.access.require(who, request.camera_id, recorded=False)
    session = await _session(ctx, request.camera_id, stream)
    subscription = session.frames.subscribe(
        request.fps, request.max_width, request.pixel_format, jpeg_quality=request.jpeg_quality
    )
    reported = 0
    async for frame in subscription:
        dropped, reported = subscription.dropped - reported, subscription.dropped
        yield pb.StreamFramesResponse(
            frame=pb.Frame(
                width=frame.width,
                height=frame.height,
                pixel_format=frame.pixel_format,  # type: ignore[arg-type]
                capture_time=convert.ts(frame.capture_time),
                sequence=frame.sequence,
                data=frame.data,
            ),
            dropped_frames=dropped,
        )


async def get_stream_status(
    ctx: IngestContext, who: Principal, request: pb.GetStreamStatusRequest
) -> pb.GetStreamStatusResponse:
    stream = convert.stream_of(request.stream)
    await ctx.access.require(who, request.camera_id, recorded=False)
    session = ctx.recorder.find(request.camera_id, stream)
    if session is not None:  # connected here: the freshest figures
        subscribers = session.packets.subscriber_count + session.frames.subscriber_count
        return pb.GetStreamStatusResponse(
            status=convert.live_status(
                request.camera_id, stream, ctx.replica_id, session.health(), subscribers
            )
        )
    rows = await ctx.statuses.list(camera_ids=[request.camera_id], stream=stream)
    if not rows:
        raise NotFound(f"no ingest replica has reported on camera {request.camera_id}")
    return pb.GetStreamStatusResponse(status=convert.status(rows[0]))


async def list_stream_statuses(
    ctx: IngestContext, request: pb.ListStreamStatusesRequest
) -> pb.ListStreamStatusesResponse:
    size = convert.page_size(request.page_size)
    after: tuple[str, int] = ("", 0)
    if request.page_token:
        camera, stream = convert.decode_token(request.page_token, 2)
        after = (camera, int(stream))
    rows = await ctx.statuses.list(
        camera_ids=list(request.camera_ids),
        replica_id=request.replica_id,
        after=after,
        limit=size + 1,
    )
    states = set(request.states)
    chosen = [r for r in rows[:size] if not states or r.state in states]
    token = ""
    if len(rows) > size:
        token = convert.encode_token(rows[size - 1].camera_id, rows[size - 1].stream)
    return pb.ListStreamStatusesResponse(
        statuses=[convert.status(r) for r in chosen], next_page_token=token
    )
