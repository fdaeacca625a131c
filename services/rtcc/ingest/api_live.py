"""Live fan-out (packets, frames) and stream health."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import TypeVar

from rtcc.clients import Caller, What, access_check, rechecked
from rtcc.core.auth import Principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound
from rtcc.ingest import convert
from rtcc.ingest.context import IngestContext
from rtcc.ingest.fanout import TrackInfo
from rtcc.ingest.frames import PIXEL_FORMATS
from rtcc.ingest.leases import INGEST_POOL
from rtcc.ingest.session import CameraSession
from rtcc.ingest.v1 import ingest_pb2 as pb

T = TypeVar("T")


async def _session(ctx: IngestContext, camera_id: str, stream: int) -> CameraSession:
    if not camera_id:
        raise InvalidArgument("camera_id is required", field="camera_id")
    session = ctx.recorder.session(camera_id, stream)
    if session is not None:
        return session
    holders = await ctx.leases.unexpired(INGEST_POOL, camera_id=camera_id)
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
    await _require_raw_live(ctx, who, request.camera_id)
    if ctx.routing and (route := await ctx.routing.route(who, request.camera_id)):
        async for message in _guarded(ctx, who, request.camera_id, route.packets(request)):
            yield message  # recorded by another replica: relayed from it (routing.py)
        return
    session = await _session(ctx, request.camera_id, stream)
    subscription = session.packets.subscribe(from_last_keyframe=request.start_from_last_keyframe)
    async for item in _guarded(ctx, who, request.camera_id, subscription):
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
    await _require_raw_live(ctx, who, request.camera_id)
    if ctx.routing and (route := await ctx.routing.route(who, request.camera_id)):
        async for message in _guarded(ctx, who, request.camera_id, route.frames(request)):
            yield message  # recorded by another replica: relayed from it (routing.py)
        return
    session = await _session(ctx, request.camera_id, stream)
    subscription = session.frames.subscribe(
        request.fps, request.max_width, request.pixel_format, jpeg_quality=request.jpeg_quality
    )
    reported = 0
    async for frame in _guarded(ctx, who, request.camera_id, subscription):
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
    if not request.camera_id:
        raise InvalidArgument("camera_id is required", field="camera_id")
    await ctx.access.require(who, request.camera_id, What.HEALTH)
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
    ctx: IngestContext, caller: Caller, request: pb.ListStreamStatusesRequest
) -> pb.ListStreamStatusesResponse:
    size = convert.page_size(request.page_size)
    after: tuple[str, int] = ("", 0)
    if request.page_token:
        camera, stream = convert.decode_token(request.page_token, 2)
        after = (camera, int(stream))
    # Health is shown only of cameras whose health the caller may see now (docs/access.md).
    allowed = await ctx.access.allowed_cameras(caller, What.HEALTH)
    camera_ids = list(request.camera_ids)
    if allowed is not None:
        camera_ids = [c for c in camera_ids if c in allowed] if camera_ids else sorted(allowed)
        if not camera_ids:
            return pb.ListStreamStatusesResponse()
    rows = await ctx.statuses.list(
        camera_ids=camera_ids,
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


async def _require_raw_live(ctx: IngestContext, who: Principal, camera_id: str) -> None:
    """Ingest's live streams are raw (unmasked): people of a masked camera are refused."""
    if not camera_id:
        raise InvalidArgument("camera_id is required", field="camera_id")
    await ctx.access.require(who, camera_id, What.LIVE_VIDEO, raw=True)


def _guarded(
    ctx: IngestContext, who: Principal, camera_id: str, items: AsyncIterable[T]
) -> AsyncIterable[T]:
    """A person's stream re-checks access and token expiry every ``recheck_s``."""
    if who.is_service():
        return items
    check = access_check(ctx.access, who, [camera_id], What.LIVE_VIDEO, raw=True)
    return rechecked(items, check, ctx.recheck_s)
