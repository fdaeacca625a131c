"""Playback sessions belong to (organisation, subject): namesakes cannot touch them."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from aiortc import RTCPeerConnection

from rtcc.core.clients import open_channel
from rtcc.playback.v1 import playback_pb2 as pb
from rtcc.playback.v1 import playback_pb2_grpc


async def test_a_same_named_user_of_another_organisation_cannot_see_or_close_a_session(
    stack: Any,
) -> None:
    owner_token = stack.token("ana@city")
    namesake_token = stack.platform.token(
        subject="ana@city", org_id="org_other", roles=["operator"]
    )
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    owner_channel = open_channel(stack.platform.grpc_address, lambda: owner_token)
    namesake_channel = open_channel(stack.platform.grpc_address, lambda: namesake_token)
    owner = playback_pb2_grpc.PlaybackServiceStub(owner_channel)
    namesake = playback_pb2_grpc.PlaybackServiceStub(namesake_channel)
    try:
        created = await owner.CreateSession(
            pb.CreateSessionRequest(
                sdp_offer=pc.localDescription.sdp, camera_id="cam_a", mode=pb.SESSION_MODE_LIVE
            )
        )
        session_id = created.session.id
        for call in (
            namesake.GetSession(pb.GetSessionRequest(session_id=session_id)),
            namesake.Pause(pb.PauseRequest(session_id=session_id)),
            namesake.CloseSession(pb.CloseSessionRequest(session_id=session_id)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        still = await owner.GetSession(pb.GetSessionRequest(session_id=session_id))
        assert still.session.id == session_id  # untouched by the namesake
        await owner.CloseSession(pb.CloseSessionRequest(session_id=session_id))
    finally:
        await pc.close()
        await owner_channel.close()
        await namesake_channel.close()
