"""One platform (every target) per backend set and test module, over a seeded world.

`world` is parametrised over the embedded backends (SQLite, a directory, the in-process
bus) and the real ones (PostgreSQL, MinIO, NATS JetStream); each test module gets its
own platform per set, seeded once (see world.py).

Set RTCC_AUTHZ_FINDINGS=path to have the matrix's mismatches written there as JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from rtcc.core.auth import PLATFORM_ORG
from rtcc.sim.simulator import SimulatedCamera, Simulator

from .findings import FINDINGS
from .world import World, backend_settings, seed, start_all


@pytest_asyncio.fixture(scope="session")
async def security_camera(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[SimulatedCamera]:
    """One simulated RTSP camera for every security test."""
    async with Simulator(1, tmp_path_factory.mktemp("sim"), scene_seconds=6.0, variants=1) as sim:
        yield sim.cameras[0]


async def _offer() -> str:
    """A real WebRTC offer (receive-only video), as a viewer's browser would send."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


@pytest_asyncio.fixture(
    scope="module",
    params=[
        "embedded",
        pytest.param("real", marks=[pytest.mark.postgres, pytest.mark.minio, pytest.mark.nats]),
    ],
)
async def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    security_camera: SimulatedCamera,
) -> AsyncIterator[World]:
    from rtcc.playback import service as playback_service

    with pytest.MonkeyPatch.context() as patch:
        # Short segments: recordings to read exist seconds after start-up.
        patch.setenv("RTCC_INGEST__SEGMENT_SECONDS", "2")
        # Every person shares one subject name: the offer rate limit (per subject)
        # must not be what refuses them.
        if hasattr(playback_service, "OFFER_BURST"):
            patch.setattr(playback_service, "OFFER_BURST", 100_000)
        data_dir = tmp_path_factory.mktemp(f"security-{request.param}")
        async with backend_settings(request.param, request, data_dir) as settings:
            platform = await start_all(settings)
            opened = World(platform, request.param, {"platform": PLATFORM_ORG})
            try:
                await seed(opened, security_camera)
                opened.offer = await _offer()
                yield opened
            finally:
                await opened.close()
                await platform.stop(grace=0.5)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("RTCC_AUTHZ_FINDINGS")
    if target:
        Path(target).write_text(json.dumps(FINDINGS, indent=1, sort_keys=True))
