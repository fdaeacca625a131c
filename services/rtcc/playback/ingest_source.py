"""Packet sources backed by the ingest service's gRPC API.

Live video comes from ingest's StreamPackets (ingest holds the one camera
connection; playback never opens another). Recorded video comes from ingest's
segment index (ListSegments) and ReadRange, one segment at a time, so playback is
continuous across segment boundaries and reports the gaps between them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator, Callable
from fractions import Fraction
from typing import cast

import av
import grpc
from av.bitstream import BitStreamFilterContext
from google.protobuf.timestamp_pb2 import Timestamp

from rtcc.common import time as wire_time
from rtcc.common.v1 import common_pb2
from rtcc.core.errors import NotFound, Unavailable
from rtcc.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from rtcc.playback.packets import EncodedPacket, Gap, SourceEvents, TrackInfo

# A jump between segments shorter than this is jitter, not a gap worth reporting.
_GAP_TOLERANCE = dt.timedelta(milliseconds=500)


def to_timestamp(value: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def from_timestamp(ts: Timestamp) -> dt.datetime:
    """Out of range (a client's start_time): InvalidArgument, not a crash."""
    return wire_time.to_datetime(ts)


def _stream(value: int) -> common_pb2.CameraStream.ValueType:
    return cast(common_pb2.CameraStream.ValueType, value)


# Bearer metadata for streaming calls. The platform's channel interceptor is only
# registered for unary calls (grpc.aio files an interceptor under its first matching
# kind), so streaming calls carry the service token themselves.
Metadata = Callable[[], tuple[tuple[str, str], ...]]


def _no_metadata() -> tuple[tuple[str, str], ...]:
    return ()


def _rpc_error(exc: grpc.aio.AioRpcError, what: str) -> Exception:
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return NotFound(f"{what}: {exc.details()}")
    return Unavailable(f"{what} failed: {exc.code().name} {exc.details()}")


class IngestPacketSource:
    """A camera's live packets from ingest's StreamPackets, starting at a keyframe."""

    def __init__(
        self,
        stub: ingest_pb2_grpc.IngestServiceStub,
        camera_id: str,
        stream: int = 0,
        metadata: Metadata = _no_metadata,
    ) -> None:
        self._stub = stub
        self._metadata = metadata
        self._camera_id = camera_id
        self._stream = stream
        self.events = SourceEvents()

    async def packets(self) -> AsyncIterator[EncodedPacket]:
        request = ingest_pb2.StreamPacketsRequest(
            camera_id=self._camera_id, stream=_stream(self._stream), start_from_last_keyframe=True
        )
        call = self._stub.StreamPackets(request, metadata=self._metadata())
        video_index, time_base = -1, Fraction(1, 90000)
        try:
            async for message in call:
                if message.HasField("tracks"):
                    video_index, time_base = self._on_tracks(message.tracks)
                    continue
                packet = message.packet
                if packet.track_index != video_index:
                    continue
                yield EncodedPacket(
                    data=packet.data,
                    pts=packet.pts,
                    time_base=time_base,
                    keyframe=packet.keyframe,
                    capture_time=from_timestamp(packet.capture_time)
                    if packet.HasField("capture_time")
                    else None,
                )
        except grpc.aio.AioRpcError as exc:
            raise _rpc_error(exc, f"live packets of {self._camera_id}") from None
        finally:
            call.cancel()
        self.events.ended = True

    def _on_tracks(self, tracks: ingest_pb2.StreamTracks) -> tuple[int, Fraction]:
        for track in tracks.tracks:
            if track.media_type == ingest_pb2.MEDIA_TYPE_VIDEO:
                self.events.track = TrackInfo(
                    codec=track.codec, profile=track.profile, width=track.width,
                    height=track.height,
                )  # fmt: skip
                base = track.time_base
                tb = Fraction(base.numerator, base.denominator) if base.denominator else None
                return track.track_index, tb or Fraction(1, 90000)
        raise Unavailable(f"camera {self._camera_id} has no video track")


def demux_annexb(data: bytes) -> tuple[str, list[tuple[bytes, int, Fraction, bool]]]:
    """Split an (f)MP4 file into Annex B video access units: (data, pts, time base, key).

    CPU work: run it in a thread.
    """
    with av.open(io.BytesIO(data), format="mp4") as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        bsf = f"{codec}_mp4toannexb" if codec in ("h264", "hevc") else "null"
        flt = BitStreamFilterContext(bsf, stream)
        out: list[tuple[bytes, int, Fraction, bool]] = []
        assert isinstance(container, av.container.InputContainer)
        for packet in [*container.demux(stream), None]:
            for unit in flt.filter(packet):
                if unit.pts is None or unit.time_base is None:
                    continue
                out.append((bytes(unit), unit.pts, Fraction(unit.time_base), unit.is_keyframe))
    return codec, out


class RecordedPacketSource:
    """A camera's recording from an instant on, segment after segment, unpaced."""

    def __init__(
        self,
        stub: ingest_pb2_grpc.IngestServiceStub,
        camera_id: str,
        start: dt.datetime,
        stream: int = 0,
        metadata: Metadata = _no_metadata,
    ) -> None:
        self._stub = stub
        self._metadata = metadata
        self._camera_id = camera_id
        self._stream = stream
        self._cursor = start
        self.events = SourceEvents()

    async def packets(self) -> AsyncIterator[EncodedPacket]:
        last_sent: dt.datetime | None = None
        async for segment in self._segments():
            seg_start = from_timestamp(segment.start_time)
            seg_end = from_timestamp(segment.end_time)
            if seg_end <= self._cursor:
                continue
            if seg_start - self._cursor > _GAP_TOLERANCE:
                self.events.gaps.append(Gap(self._cursor, seg_start))
            info, units = await self._read(max(seg_start, self._cursor), seg_end)
            base = from_timestamp(info.start_time)
            first_pts = units[0][1] if units else 0
            for data, pts, time_base, key in units:
                capture = base + dt.timedelta(seconds=float((pts - first_pts) * time_base))
                if last_sent is not None and capture <= last_sent:
                    continue  # overlap with what the previous segment already gave
                last_sent = capture
                yield EncodedPacket(data, pts, time_base, key, capture)
            self._cursor = max(seg_end, self._cursor)
        self.events.ended = True

    async def _segments(self) -> AsyncIterator[ingest_pb2.Segment]:
        token = ""
        first = True
        while first or token:
            first = False
            request = ingest_pb2.ListSegmentsRequest(
                camera_id=self._camera_id,
                stream=_stream(self._stream),
                time_range=common_pb2.TimeRange(start_time=to_timestamp(self._cursor)),
                page_size=100,
                page_token=token,
            )
            try:
                response = await self._stub.ListSegments(request)
            except grpc.aio.AioRpcError as exc:
                raise _rpc_error(exc, f"segments of {self._camera_id}") from None
            for segment in response.segments:
                yield segment
            token = response.next_page_token

    async def _read(
        self, start: dt.datetime, end: dt.datetime
    ) -> tuple[ingest_pb2.ReadRangeInfo, list[tuple[bytes, int, Fraction, bool]]]:
        request = ingest_pb2.ReadRangeRequest(
            camera_id=self._camera_id,
            stream=_stream(self._stream),
            time_range=common_pb2.TimeRange(
                start_time=to_timestamp(start), end_time=to_timestamp(end)
            ),
        )
        info = ingest_pb2.ReadRangeInfo()
        chunks: list[bytes] = []
        try:
            async for message in self._stub.ReadRange(request, metadata=self._metadata()):
                if message.HasField("info"):
                    info = message.info
                chunks.append(message.data)
        except grpc.aio.AioRpcError as exc:
            raise _rpc_error(exc, f"recording of {self._camera_id}") from None
        codec, units = await asyncio.to_thread(demux_annexb, b"".join(chunks))
        if self.events.track is None:
            self.events.track = TrackInfo(codec=codec)
        return info, units


class IngestRecordings:
    """Recorded video of any camera, through ingest's segment index and ReadRange."""

    def __init__(
        self, stub: ingest_pb2_grpc.IngestServiceStub, metadata: Metadata = _no_metadata
    ) -> None:
        self._stub = stub
        self._metadata = metadata

    async def exists_from(self, camera_id: str, stream: int, start: dt.datetime) -> bool:
        request = ingest_pb2.LocateSegmentRequest(
            camera_id=camera_id, stream=_stream(stream), time=to_timestamp(start)
        )
        try:
            await self._stub.LocateSegment(request, timeout=5)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise _rpc_error(exc, f"recording of {camera_id}") from None
        return True

    def open(self, camera_id: str, stream: int, start: dt.datetime) -> RecordedPacketSource:
        return RecordedPacketSource(self._stub, camera_id, start, stream, self._metadata)
