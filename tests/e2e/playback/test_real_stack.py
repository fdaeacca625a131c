"""The product path, end to end: a simulated RTSP camera -> the real registry and
ingest (one camera connection) -> playback -> Chromium decoding the live video,
with the registry's own access decisions, then a recording ingest made of it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.core.config import Settings
from rtcc.core.server import start_platform
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

from .test_console_chromium import ARTIFACTS, frames_rise, wait_until
from .test_signalling import OFFER


async def post_offer(base: str, path: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(base + path, data=OFFER, headers=headers) as response,
    ):
        return response.status


@pytest_asyncio.fixture(scope="module")
async def simulator(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    from rtcc.sim.simulator import Simulator

    async with Simulator(1, tmp_path_factory.mktemp("sim"), scene_seconds=6.0) as sim:
        yield sim


async def test_live_simulated_camera_plays_in_chromium_through_ingest(
    simulator: Any, browser: Any, tmp_path: Path
) -> None:
    from rtcc.sim.registration import register_cameras

    settings = Settings(
        grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0", metrics_listen="127.0.0.1:0",
        data_dir=tmp_path, auth={"jwt_secret": secrets.token_urlsafe(40)}, drain_grace_s=0.5,
    )  # fmt: skip
    platform = await start_platform(settings, ["registry", "ingest", "playback"])
    assert platform.http is not None
    admin = platform.token(subject="root@city", org_id=PLATFORM_ORG, roles=["platform-admin"])
    channel = open_channel(platform.grpc_address, lambda: admin)
    page = await browser.new_page()
    try:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        org = await registry.CreateOrganization(
            registry_pb2.CreateOrganizationRequest(
                organization=registry_pb2.Organization(
                    display_name="Metro PD", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                )
            )
        )
        org_id = org.organization.id
        cameras = simulator.cameras[:1]
        (camera_id,) = await register_cameras(channel, cameras, organization_id=org_id)
        token = platform.token(subject="op@metro", org_id=org_id, roles=["operator"])
        base = f"http://127.0.0.1:{platform.http.port}"
        await page.goto(base + "/")
        await page.fill("#token", token)
        await page.click("#signin-button")
        await page.wait_for_selector(f"#camera-list li[data-camera={camera_id}]")
        await page.goto(f"{base}/#/live/{camera_id}")
        await frames_rise(page, timeout_s=30)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "playback-live-simulated-camera.png"))

        async def recorded_span() -> bool:
            url = f"{base}/api/cameras/{camera_id}/recordings"
            async with (
                aiohttp.ClientSession() as http,
                http.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
            ):
                return response.status == 200 and bool((await response.json())["spans"])

        await wait_until(recorded_span, 30)  # ingest closes 4 s segments
        await page.goto(f"{base}/#/camera/{camera_id}")
        await page.wait_for_selector("#timeline rect.span")
        await page.click("#timeline rect.span >> nth=0")
        await page.wait_for_function("window.rtcc.players.length === 1")
        await frames_rise(page, timeout_s=20)
        await page.screenshot(path=str(ARTIFACTS / "playback-recorded-simulated-camera.png"))

        stranger = platform.token(subject="x@elsewhere", org_id="org_elsewhere", roles=["operator"])
        assert await post_offer(base, f"/whep/cameras/{camera_id}", stranger) in (403, 404)
    finally:
        await page.close()
        await channel.close()
        await platform.stop(grace=0.5)
