"""Playback sessions behind two replicas: a session created on one is seen, controlled
and closed through the other (its id names its owner), over WHEP/HTTP and gRPC; a
forged id is not forwarded; an owner that is gone is named in a 503, fast."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection

from rtcc.core.clients import open_channel
from rtcc.playback.v1 import playback_pb2 as pb
from rtcc.playback.v1 import playback_pb2_grpc

from .conftest import free_port


async def _offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def test_a_session_is_served_through_any_playback_replica(
    deployment: Any, drill_cameras: Any, wait_for: Any
) -> None:
    core = deployment.server("core", "registry,ingest")
    await core.start()
    await core.wait_serving()
    org_id, ids = await deployment.register(core.address, drill_cameras)
    peers = {"RTCC_PEERS__REGISTRY": core.address, "RTCC_PEERS__INGEST": core.address}
    http = {name: free_port() for name in ("a", "b")}
    replicas = {
        name: deployment.server(
            f"playback-{name}", "playback", RTCC_HTTP_LISTEN=f"127.0.0.1:{port}", **peers
        )
        for name, port in http.items()
    }
    for replica in replicas.values():
        await replica.start()
    for replica in replicas.values():
        await replica.wait_serving()
    base = {name: f"http://127.0.0.1:{port}" for name, port in http.items()}
    token = deployment.token(org_id, ["operator"])
    auth = {"Authorization": f"Bearer {token}"}
    pc, sdp = await _offer()
    location = ""
    async with aiohttp.ClientSession() as client:

        async def created() -> bool:
            nonlocal location
            headers = {**auth, "Content-Type": "application/sdp"}
            url = f"{base['a']}/whep/cameras/{ids[0]}"
            async with client.post(url, data=sdp, headers=headers) as reply:
                location = reply.headers.get("Location", "")
                return reply.status == 201  # 503 while ingest connects to the camera

        try:
            await wait_for(created, within_s=40, what="a live session on replica a")
            session_id = location.rsplit("/", 1)[1]
            async with client.get(f"{base['b']}/api/sessions/{session_id}", headers=auth) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["id"] == session_id
            async with open_channel(replicas["b"].address, lambda: token) as channel:
                stub = playback_pb2_grpc.PlaybackServiceStub(channel)
                got = await stub.GetSession(pb.GetSessionRequest(session_id=session_id))
                assert got.session.id == session_id and got.session.camera_id == ids[0]
            forged = session_id[:-1] + ("a" if session_id[-1] != "a" else "b")
            async with client.get(f"{base['b']}/api/sessions/{forged}", headers=auth) as r:
                assert r.status == 404, "a forged owner is never contacted"
            async with client.delete(f"{base['b']}{location}", headers=auth) as r:
                assert r.status == 200, await r.text()
            async with client.get(f"{base['a']}/api/sessions/{session_id}", headers=auth) as r:
                assert r.status == 404, "closed on its owner"

            # The owner dies: the other replica names it, quickly, instead of hanging.
            await wait_for(created, within_s=20, what="a second session on replica a")
            second = location.rsplit("/", 1)[1]
            await replicas["a"].kill()
            started = time.monotonic()
            async with client.get(f"{base['b']}/api/sessions/{second}", headers=auth) as r:
                assert r.status == 503
                assert replicas["a"].address in (await r.json())["error"]
            assert time.monotonic() - started < 10
        finally:
            await pc.close()
