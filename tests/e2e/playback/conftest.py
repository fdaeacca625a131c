"""A playback target over stand-ins for ingest and the registry, and a real Chromium.

The ingest and registry stand-ins below are small in-test gRPC servicers: the real
services are being developed in parallel, and playback talks to them only through
their v1 contracts, which the stand-ins serve. The ingest stand-in serves live
packets and two recorded segments (with a gap between them) from an H.264 clip
rendered by ffmpeg; the registry stand-in answers access checks from a table the
tests can change (to revoke access mid-session).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import secrets
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import grpc
import pytest
import pytest_asyncio
from av.bitstream import BitStreamFilterContext
from google.protobuf.timestamp_pb2 import Timestamp

from rtcc.core.auth import TokenAuthority
from rtcc.core.config import Settings
from rtcc.core.server import Platform, start_platform
from rtcc.ingest.v1 import ingest_pb2 as ipb
from rtcc.ingest.v1 import ingest_pb2_grpc
from rtcc.registry.v1 import registry_pb2 as rpb
from rtcc.registry.v1 import registry_pb2_grpc

ORG = "org_city"
SECRET = secrets.token_urlsafe(40)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
]  # fmt: skip


def _ts(value: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


@dataclass
class Clip:
    """A 4 s, 15 fps, GOP-15 H.264 clip as fMP4 bytes and as Annex B access units."""

    mp4: bytes
    units: list[tuple[bytes, int, bool]]  # (data, pts in 1/90000, keyframe)


def render_clip(directory: Path) -> Clip:
    path = directory / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc=size=320x240:rate=15", "-t", "4", "-c:v", "libx264", "-bf", "0",
         "-g", "15", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-movflags", "frag_keyframe+empty_moov+default_base_moof", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    mp4 = path.read_bytes()
    units: list[tuple[bytes, int, bool]] = []
    with av.open(io.BytesIO(mp4), format="mp4") as container:
        stream = container.streams.video[0]
        flt = BitStreamFilterContext("h264_mp4toannexb", stream)
        for packet in [*container.demux(stream), None]:
            for unit in flt.filter(packet):
                if unit.pts is not None and unit.time_base is not None:
                    pts = int(unit.pts * unit.time_base * 90000)
                    units.append((bytes(unit), pts, unit.is_keyframe))
    return Clip(mp4, units)


@dataclass
class FakeIngest(ingest_pb2_grpc.IngestServiceServicer):
    """Stands in for ingest: live packets at 15 fps, and segments A and B with a gap."""

    clip: Clip
    t0: dt.datetime
    live_streams_opened: int = 0

    def segments(self) -> list[ipb.Segment]:
        spans = [(0, 4), (6, 10)]
        return [
            ipb.Segment(
                id=f"seg_{i}", camera_id="cam_a",
                start_time=_ts(self.t0 + dt.timedelta(seconds=a)),
                end_time=_ts(self.t0 + dt.timedelta(seconds=b)), video_codec="h264",
            )
            for i, (a, b) in enumerate(spans)
        ]  # fmt: skip

    async def StreamPackets(self, request: Any, context: Any) -> AsyncIterator[Any]:
        self.live_streams_opened += 1
        track = ipb.CodecParameters(
            track_index=0, media_type=ipb.MEDIA_TYPE_VIDEO, codec="h264",
            time_base=ipb.Rational(numerator=1, denominator=90000), width=320, height=240,
        )  # fmt: skip
        yield ipb.StreamPacketsResponse(tracks=ipb.StreamTracks(tracks=[track]))
        loop, offset = 0, 0
        while True:  # the clip, looped, paced at its frame rate
            for data, pts, key in self.clip.units:
                await asyncio.sleep(1 / 15)
                packet = ipb.Packet(track_index=0, pts=pts + offset, dts=pts + offset,
                                    keyframe=key, data=data)  # fmt: skip
                yield ipb.StreamPacketsResponse(packet=packet)
            loop += 1
            offset = loop * 4 * 90000

    async def ListSegments(self, request: Any, context: Any) -> Any:
        start = request.time_range.start_time.ToDatetime(tzinfo=dt.UTC)
        found = [s for s in self.segments() if s.end_time.ToDatetime(tzinfo=dt.UTC) > start]
        return ipb.ListSegmentsResponse(segments=found)

    async def LocateSegment(self, request: Any, context: Any) -> Any:
        at = request.time.ToDatetime(tzinfo=dt.UTC)
        for s in self.segments():
            if s.end_time.ToDatetime(tzinfo=dt.UTC) > at:
                return ipb.LocateSegmentResponse(segment=s)
        await context.abort(grpc.StatusCode.NOT_FOUND, "no recording")

    async def ReadRange(self, request: Any, context: Any) -> AsyncIterator[Any]:
        start = request.time_range.start_time.ToDatetime(tzinfo=dt.UTC)
        segment = next(s for s in self.segments() if s.end_time.ToDatetime(tzinfo=dt.UTC) > start)
        info = ipb.ReadRangeInfo(content_type="video/mp4", start_time=segment.start_time,
                                 end_time=segment.end_time, segment_ids=[segment.id])  # fmt: skip
        yield ipb.ReadRangeResponse(info=info, data=self.clip.mp4)


@dataclass
class FakeRegistry(registry_pb2_grpc.RegistryServiceServicer):
    """Stands in for the registry: access from a table (camera -> scopes)."""

    access: dict[str, set[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    masks: dict[str, list[list[tuple[float, float]]]] = field(default_factory=dict)

    async def CheckCameraAccess(self, request: Any, context: Any) -> Any:
        if request.camera_id not in self.names:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such camera")
        scope = "live" if request.scope == rpb.ACCESS_SCOPE_LIVE else "recorded"
        allowed = scope in self.access.get(request.camera_id, set())
        return rpb.CheckCameraAccessResponse(
            allowed=allowed, reason="grant" if allowed else "no grant"
        )

    async def GetCamera(self, request: Any, context: Any) -> Any:
        masks = [{"vertices": [{"x": x, "y": y} for x, y in mask]}
                 for mask in self.masks.get(request.camera_id, [])]  # fmt: skip
        return rpb.GetCameraResponse(camera=rpb.Camera(id=request.camera_id, privacy_masks=masks))

    async def ListCameras(self, request: Any, context: Any) -> Any:
        token = dict(context.invocation_metadata())["authorization"].partition(" ")[2]
        TokenAuthority(SECRET).verify(token)  # a user's own token, as the real registry wants
        cameras = [
            rpb.Camera(
                id=cam, display_name=name, organization_id=ORG,
                location={"latitude": 40.7 + i * 0.001, "longitude": -74.0 + i * 0.002},
                field_of_view={"heading_degrees": 90 * i, "angle_degrees": 60, "range_meters": 50},
                caller_access={"live": "live" in self.access.get(cam, set()),
                               "recorded": "recorded" in self.access.get(cam, set())},
            )
            for i, (cam, name) in enumerate(self.names.items())
        ]  # fmt: skip
        return rpb.ListCamerasResponse(cameras=cameras)


@dataclass
class Stack:
    platform: Platform
    ingest: FakeIngest
    registry: FakeRegistry
    base_url: str

    def token(self, subject: str = "ana@city") -> str:
        return self.platform.token(subject=subject, org_id=ORG, roles=["operator"])


@asynccontextmanager
async def running_stack(directory: Path) -> AsyncIterator[Stack]:
    """The playback target over the stand-ins (also used by bench/playback_first_frame.py)."""
    clip = await asyncio.to_thread(render_clip, directory)
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=10)
    ingest = FakeIngest(clip, t0)
    registry = FakeRegistry(
        access={
            "cam_a": {"live", "recorded"}, "cam_b": {"live"}, "cam_denied": set(),
            "cam_masked": {"live"},
        },
        names={
            "cam_a": "Main St", "cam_b": "Harbour", "cam_denied": "Private lot",
            "cam_masked": "School (masked)",
        },
        # The left half of cam_masked is private.
        masks={"cam_masked": [[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]]},
    )  # fmt: skip
    server = grpc.aio.server()
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(ingest, server)
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(registry, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    peer = f"127.0.0.1:{port}"
    settings = Settings(
        grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0", metrics_listen="127.0.0.1:0",
        data_dir=directory, auth={"jwt_secret": SECRET}, drain_grace_s=0.5,
        peers={"ingest": peer, "registry": peer},
        # The stand-in has no WatchCameras to announce access changes: decisions are
        # cached 1 s, so a revocation still ends sessions at the next 2 s re-check.
        access={"cache_ttl_s": 1.0},
    )  # fmt: skip
    platform = await start_platform(settings, ["playback"], with_metrics=False)
    assert platform.http is not None
    try:
        yield Stack(platform, ingest, registry, f"http://127.0.0.1:{platform.http.port}")
    finally:
        await platform.stop(grace=0.5)
        await server.stop(0)


@pytest_asyncio.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path_factory.mktemp("playback")) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")),
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS,
        )  # fmt: skip
        try:
            yield context
        finally:
            await context.close()
