"""IngestService over gRPC: registry + ingest in one process, real RTSP cameras."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf import timestamp_pb2

from rtcc.common.v1 import common_pb2
from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.ingest.v1 import ingest_pb2 as pb
from rtcc.ingest.v1 import ingest_pb2_grpc
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc
from rtcc.sim.registration import register_cameras


def _ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def _duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(json.loads(out.stdout)["format"]["duration"])


class Client:
    """IngestService calls as one principal (metadata per call, streams included)."""

    def __init__(self, channel: grpc.aio.Channel, token: str) -> None:
        self.stub = ingest_pb2_grpc.IngestServiceStub(channel)
        self.metadata = (("authorization", f"Bearer {token}"),)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.stub, name)
        return lambda request, **kw: method(request, metadata=self.metadata, **kw)


@pytest_asyncio.fixture
async def running(
    platform_factory: Any, simulator: Any, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, Client, list[str]]]:
    monkeypatch.setenv("RTCC_INGEST__SEGMENT_SECONDS", "2")
    async with platform_factory(targets=["registry", "ingest"]) as p:
        admin = p.token(PLATFORM_ORG, ["platform-admin"])
        channel = open_channel(p.address, lambda: admin)
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        org = await registry.CreateOrganization(
            registry_pb2.CreateOrganizationRequest(
                organization=registry_pb2.Organization(
                    display_name="Metro PD", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                )
            )
        )
        ids = await register_cameras(
            channel, simulator.cameras[:1], organization_id=org.organization.id
        )
        # Video goes to the owning organisation's people (platform admins see metadata only).
        owner = p.token(org.organization.id, ["operator", "investigator"], subject="op@metro")
        yield p, Client(channel, owner), ids
        await channel.close()


async def _segments(client: Client, camera_id: str) -> list[Any]:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    answer = await client.ListSegments(
        pb.ListSegmentsRequest(
            camera_id=camera_id, time_range=common_pb2.TimeRange(start_time=_ts(start))
        )
    )
    return list(answer.segments)


async def test_registered_camera_is_recorded_and_its_range_reads_as_one_mp4(
    running: Any, wait_for: Any, tmp_path: Path
) -> None:
    _p, client, (camera_id,) = running

    async def enough() -> bool:
        return len(await _segments(client, camera_id)) >= 3

    await wait_for(enough, within_s=40, what="3 segments listed over gRPC")
    segments = await _segments(client, camera_id)
    first, last = segments[0], segments[-1]
    status = await client.GetStreamStatus(pb.GetStreamStatusRequest(camera_id=camera_id))
    assert status.status.state in (pb.STREAM_STATE_ONLINE, pb.STREAM_STATE_DEGRADED)
    assert status.status.recording
    # Cut at the first keyframe (2 s GOP) at or past ingest.segment_seconds (2 here).
    second = segments[1]
    length = (second.end_time.ToDatetime() - second.start_time.ToDatetime()).total_seconds()
    assert abs(length - 2.0) < 0.05, f"a 2 s segment setting gave {length:.3f} s segments"

    middle = first.start_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(seconds=1)
    located = await client.LocateSegment(
        pb.LocateSegmentRequest(camera_id=camera_id, time=_ts(middle))
    )
    assert located.exact and located.segment.id == first.id
    assert abs(located.offset.ToTimedelta().total_seconds() - 1.0) < 0.01

    start = first.start_time.ToDatetime(tzinfo=dt.UTC) + dt.timedelta(seconds=0.5)
    end = last.end_time.ToDatetime(tzinfo=dt.UTC)
    chunks = [
        message
        async for message in client.ReadRange(
            pb.ReadRangeRequest(
                camera_id=camera_id,
                time_range=common_pb2.TimeRange(start_time=_ts(start), end_time=_ts(end)),
                chunk_size_bytes=65536,
            )
        )
    ]
    info = chunks[0].info
    assert list(info.segment_ids) == [s.id for s in segments]
    assert info.start_time == first.start_time, "widened to the keyframe before the start"
    path = tmp_path / "range.mp4"
    path.write_bytes(b"".join(c.data for c in chunks))
    wanted = (end - first.start_time.ToDatetime(tzinfo=dt.UTC)).total_seconds()
    assert abs(_duration(path) - wanted) < 0.2


async def test_live_packets_and_frames_come_from_the_one_camera_session(
    running: Any, wait_for: Any
) -> None:
    _p, client, (camera_id,) = running

    async def online() -> bool:
        try:
            answer = await client.GetStreamStatus(pb.GetStreamStatusRequest(camera_id=camera_id))
        except grpc.aio.AioRpcError:
            return False
        return answer.status.state == pb.STREAM_STATE_ONLINE

    await wait_for(online, within_s=30, what="the camera online")
    packets = client.StreamPackets(
        pb.StreamPacketsRequest(camera_id=camera_id, start_from_last_keyframe=True)
    )
    frames = client.StreamFrames(
        pb.StreamFramesRequest(
            camera_id=camera_id, fps=5, max_width=320, pixel_format=pb.PIXEL_FORMAT_GRAY8
        )
    )
    received = [await packets.read() for _ in range(20)]
    assert received[0].WhichOneof("payload") == "tracks"
    track = received[0].tracks.tracks[0]
    assert (track.codec, track.width, track.height) == ("h264", 1280, 720)
    assert received[1].packet.keyframe, "a subscriber starts at a keyframe"
    got = [await frames.read() for _ in range(6)]
    assert all((f.frame.width, f.frame.height) == (320, 180) for f in got)
    assert all(len(f.frame.data) == 320 * 180 for f in got)
    times = [f.frame.capture_time.ToDatetime() for f in got]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(0.13 <= g <= 0.4 for g in gaps), gaps  # ~5 fps sampled from 15
    status = await client.GetStreamStatus(pb.GetStreamStatusRequest(camera_id=camera_id))
    assert status.status.subscriber_count == 2
    packets.cancel()
    frames.cancel()


async def test_frames_come_as_jpeg_at_the_requested_quality(running: Any, wait_for: Any) -> None:
    import cv2
    import numpy as np

    _p, client, (camera_id,) = running

    async def online() -> bool:
        try:
            answer = await client.GetStreamStatus(pb.GetStreamStatusRequest(camera_id=camera_id))
        except grpc.aio.AioRpcError:
            return False
        return answer.status.state == pb.STREAM_STATE_ONLINE

    await wait_for(online, within_s=30, what="the camera online")
    sizes = {}
    for quality in (20, 95):
        call = client.StreamFrames(
            pb.StreamFramesRequest(
                camera_id=camera_id, fps=5, max_width=320,
                pixel_format=pb.PIXEL_FORMAT_JPEG, jpeg_quality=quality,
            )
        )  # fmt: skip
        got = [await call.read() for _ in range(3)]
        call.cancel()
        for item in got:
            assert item.frame.pixel_format == pb.PIXEL_FORMAT_JPEG
            assert (item.frame.width, item.frame.height) == (320, 180)
            image = cv2.imdecode(np.frombuffer(item.frame.data, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None and image.shape == (180, 320, 3)
        sizes[quality] = sum(len(item.frame.data) for item in got)
    assert sizes[20] < sizes[95]
    bad = client.StreamFrames(
        pb.StreamFramesRequest(
            camera_id=camera_id, pixel_format=pb.PIXEL_FORMAT_JPEG, jpeg_quality=101
        )
    )
    try:
        await bad.read()
        raise AssertionError("jpeg_quality=101 was accepted")
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_sub_stream_is_connected_on_demand_for_frames(running: Any, wait_for: Any) -> None:
    _p, client, (camera_id,) = running

    async def recording() -> bool:
        try:
            answer = await client.GetStreamStatus(pb.GetStreamStatusRequest(camera_id=camera_id))
        except grpc.aio.AioRpcError:
            return False
        return answer.status.recording

    await wait_for(recording, within_s=30, what="the main stream recording")
    frames = client.StreamFrames(
        pb.StreamFramesRequest(
            camera_id=camera_id, stream=common_pb2.CAMERA_STREAM_SUB, fps=2,
            pixel_format=pb.PIXEL_FORMAT_RGB24,
        )
    )  # fmt: skip
    first = await frames.read()
    assert (first.frame.width, first.frame.height) == (640, 360)
    assert len(first.frame.data) == 640 * 360 * 3
    sub = await client.GetStreamStatus(
        pb.GetStreamStatusRequest(camera_id=camera_id, stream=common_pb2.CAMERA_STREAM_SUB)
    )
    assert sub.status.subscriber_count == 1 and not sub.status.recording
    frames.cancel()


async def test_camera_health_is_reported_to_the_registry(running: Any, wait_for: Any) -> None:
    p, _client, (camera_id,) = running
    admin = p.token(PLATFORM_ORG, ["platform-admin"])
    registry = registry_pb2_grpc.RegistryServiceStub(open_channel(p.address, lambda: admin))

    async def online() -> bool:
        answer = await registry.GetCamera(registry_pb2.GetCameraRequest(camera_id=camera_id))
        return answer.camera.health.status == registry_pb2.CAMERA_STATUS_ONLINE

    await wait_for(online, within_s=30, what="the registry to show the camera online")


async def test_other_organisations_cannot_read_recordings_without_a_grant(
    running: Any,
) -> None:
    p, _client, (camera_id,) = running
    outsider = Client(
        open_channel(p.address), p.token("org_elsewhere", ["investigator"], subject="eve")
    )
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await outsider.ListSegments(
            pb.ListSegmentsRequest(
                camera_id=camera_id,
                time_range=common_pb2.TimeRange(start_time=_ts(now - dt.timedelta(hours=1))),
            )
        )
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
