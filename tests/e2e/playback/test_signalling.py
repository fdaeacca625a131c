"""Signalling without a browser: WHEP bad input, rate limits, and the gRPC API with
an aiortc client that decodes what it receives."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from rtcc.core.clients import open_channel
from rtcc.playback.service import OFFER_BURST
from rtcc.playback.v1 import playback_pb2 as pb
from rtcc.playback.v1 import playback_pb2_grpc

OFFER = (Path(__file__).parents[2] / "unit" / "playback" / "chromium_offer.sdp").read_text()


async def post_offer(stack: Any, path: str, token: str, body: str = OFFER) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.base_url + path, data=body, headers=headers) as response,
    ):
        return response.status


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/whep/cameras/cam_a", "not sdp", 400),
        ("/whep/cameras/cam_nope", OFFER, 404),
        ("/whep/cameras/cam_denied", OFFER, 403),
        ("/whep/cameras/cam_b?start=2026-01-01T00:00:00Z", OFFER, 403),  # live-only grant
        ("/whep/cameras/cam_a?start=yesterday", OFFER, 400),
        ("/whep/cameras/cam_a?start=2026-01-01T00:00:00Z&speed=64", OFFER, 400),
    ],
    ids=["malformed-sdp", "unknown-camera", "denied", "live-only", "bad-start", "bad-speed"],
)
async def test_bad_offers_are_refused_with_a_status(
    stack: Any, path: str, body: str, status: int
) -> None:
    assert await post_offer(stack, path, stack.token("bad@city"), body) == status


async def test_offers_without_a_valid_token_are_unauthenticated(stack: Any) -> None:
    assert await post_offer(stack, "/whep/cameras/cam_a", "not-a-jwt") == 401


async def test_an_offer_flood_is_rate_limited_and_others_are_unaffected(stack: Any) -> None:
    flooder = stack.token("flood@city")
    statuses = await asyncio.gather(
        *(post_offer(stack, "/whep/cameras/cam_a", flooder, "junk") for _ in range(80))
    )
    assert statuses.count(429) >= 80 - OFFER_BURST - 10  # a few tokens refill meanwhile
    assert set(statuses) <= {400, 429}
    assert await post_offer(stack, "/whep/cameras/cam_a", stack.token("calm@city"), "junk") == 400


async def grpc_session(stack: Any, token: str, **fields: Any) -> tuple[Any, Any, Any]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    tracks: asyncio.Queue[Any] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    pc.tracks = tracks  # type: ignore[attr-defined]
    await pc.setLocalDescription(await pc.createOffer())
    channel = open_channel(stack.platform.grpc_address, lambda: token)
    stub = playback_pb2_grpc.PlaybackServiceStub(channel)
    try:
        response = await stub.CreateSession(
            pb.CreateSessionRequest(sdp_offer=pc.localDescription.sdp, **fields)
        )
    except BaseException:
        await pc.close()
        await channel.close()
        raise
    await pc.setRemoteDescription(RTCSessionDescription(response.sdp_answer, "answer"))
    return pc, stub, (channel, response)


async def test_grpc_live_session_delivers_decodable_h264(stack: Any) -> None:
    pc, stub, (channel, response) = await grpc_session(
        stack, stack.token(), camera_id="cam_a", mode=pb.SESSION_MODE_LIVE
    )
    try:
        track = await asyncio.wait_for(pc.tracks.get(), 5)
        frame = await asyncio.wait_for(track.recv(), 10)
        assert frame.width == 320 and frame.height == 240
        assert "H264" in response.sdp_answer
        got = await stub.GetSession(pb.GetSessionRequest(session_id=response.session.id))
        assert got.session.state == pb.SESSION_STATE_PLAYING
        await stub.CloseSession(pb.CloseSessionRequest(session_id=response.session.id))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetSession(pb.GetSessionRequest(session_id=response.session.id))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await pc.close()
        await channel.close()


async def test_grpc_recorded_session_seeks_and_pauses(stack: Any) -> None:
    start = stack.ingest.t0 + dt.timedelta(seconds=1)
    pc, stub, (channel, response) = await grpc_session(
        stack, stack.token(), camera_id="cam_a", mode=pb.SESSION_MODE_RECORDED,
        start_time=start, rate=2,
    )  # fmt: skip
    session_id = response.session.id
    try:
        assert response.session.rate == 2
        sought = await stub.Seek(
            pb.SeekRequest(session_id=session_id, time=stack.ingest.t0 + dt.timedelta(seconds=7))
        )
        assert sought.session.position.ToDatetime(tzinfo=dt.UTC) == stack.ingest.t0 + dt.timedelta(
            seconds=7
        )
        paused = await stub.Pause(pb.PauseRequest(session_id=session_id))
        assert paused.session.state in (pb.SESSION_STATE_PAUSED, pb.SESSION_STATE_CONNECTING)
        await stub.Resume(pb.ResumeRequest(session_id=session_id))
    finally:
        await stub.CloseSession(pb.CloseSessionRequest(session_id=session_id))
        await pc.close()
        await channel.close()


async def test_grpc_denied_camera_is_permission_denied(stack: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await grpc_session(stack, stack.token(), camera_id="cam_denied", mode=pb.SESSION_MODE_LIVE)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_grpc_live_session_pauses_but_cannot_seek(stack: Any) -> None:
    pc, stub, (channel, response) = await grpc_session(
        stack, stack.token(), camera_id="cam_a", mode=pb.SESSION_MODE_LIVE
    )
    session_id = response.session.id
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Seek(pb.SeekRequest(session_id=session_id, time=stack.ingest.t0))
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        await asyncio.wait_for(pc.tracks.get(), 5)
        await stub.Pause(pb.PauseRequest(session_id=session_id))
        resumed = await stub.Resume(pb.ResumeRequest(session_id=session_id))
        assert resumed.session.state in (pb.SESSION_STATE_PLAYING, pb.SESSION_STATE_CONNECTING)
    finally:
        await stub.CloseSession(pb.CloseSessionRequest(session_id=session_id))
        await pc.close()
        await channel.close()


async def test_privacy_masked_camera_is_reencoded_with_the_mask_black(stack: Any) -> None:
    pc, stub, (channel, response) = await grpc_session(
        stack, stack.token(), camera_id="cam_masked", mode=pb.SESSION_MODE_LIVE
    )
    try:
        track = await asyncio.wait_for(pc.tracks.get(), 5)
        frame = await asyncio.wait_for(track.recv(), 10)
        luma = frame.to_ndarray(format="gray")
        left, right = luma[:, 8:150], luma[:, 170:]
        assert left.mean() < 30 < right.mean()  # testsrc is bright and colourful
    finally:
        await stub.CloseSession(pb.CloseSessionRequest(session_id=response.session.id))
        await pc.close()
        await channel.close()


async def test_revocation_is_reported_on_the_session_event_stream(stack: Any) -> None:
    token = stack.token("eve@city")
    pc, stub, (channel, response) = await grpc_session(
        stack, token, camera_id="cam_b", mode=pb.SESSION_MODE_LIVE
    )
    # Streaming calls carry the token themselves: core's channel interceptor only
    # covers unary calls (see docs/playback.md).
    events = stub.StreamSessionEvents(
        pb.StreamSessionEventsRequest(session_id=response.session.id),
        metadata=(("authorization", f"Bearer {token}"),),
    )
    try:
        first = await asyncio.wait_for(events.read(), 5)
        assert first.HasField("state_changed")
        stack.registry.access["cam_b"] = set()
        async with asyncio.timeout(10):
            event = await events.read()
            while not event.HasField("closed"):
                event = await events.read()
        assert event.closed.reason == pb.CLOSE_REASON_ACCESS_REVOKED
    finally:
        stack.registry.access["cam_b"] = {"live"}
        events.cancel()
        await pc.close()
        await channel.close()


async def test_a_token_expiring_mid_session_ends_the_session(stack: Any) -> None:
    short = stack.platform.runtime.authority.mint(
        subject="tim@city", org_id="org_city", roles=["operator"], ttl=dt.timedelta(seconds=2)
    )
    pc, _, (channel, response) = await grpc_session(
        stack, short, camera_id="cam_a", mode=pb.SESSION_MODE_LIVE
    )
    fresh = open_channel(stack.platform.grpc_address, lambda: stack.token("tim@city"))
    owner = playback_pb2_grpc.PlaybackServiceStub(fresh)
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    await owner.GetSession(pb.GetSessionRequest(session_id=response.session.id))
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.NOT_FOUND
                    break
                await asyncio.sleep(0.2)  # polling the server's state, with a timeout
    finally:
        await pc.close()
        await channel.close()
        await fresh.close()
