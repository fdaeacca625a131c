"""The real stack the demo runs, for the console's Chromium tests and its benchmark.

Registry, ingest, analytics, alerting, evidence and playback in one process (embedded
backends), the simulator's real RTSP server serving the demo's street scenes (natural
footage), the cameras registered and analytics configured exactly as `make run` does
(:func:`rtcc.sim.demo.start_demo`), and the demo alert feed. Nothing is a stand-in.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.config import Settings
from rtcc.core.server import Platform, start_platform

TARGETS = ["registry", "ingest", "analytics", "alerting", "evidence", "playback"]
VIDEO_TARGETS = ["registry", "ingest", "playback"]
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


def render_cache() -> Path:
    """Rendered scenes are keyed by their content: one cache for every run is safe."""
    return Path(os.environ.get("RTCC_TOOLS") or Path.home() / ".cache" / "rtcc") / "sim"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DemoStack:
    platform: Platform
    simulator: Any
    base_url: str
    operator: str
    camera_ids: list[str]

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.operator}"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.base_url + path, headers=headers) as response,
        ):
            return response.status, await response.json()


@asynccontextmanager
async def running_demo(
    directory: Path, cameras: int = 2, *, analytics: bool = True
) -> AsyncIterator[DemoStack]:
    from rtcc.sim.demo import DEMO_ORG_ID, demo_camera_ids, start_demo

    settings = Settings(
        grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0", metrics_listen="127.0.0.1:0",
        data_dir=directory, auth={"jwt_secret": secrets.token_urlsafe(40)}, drain_grace_s=0.5,
    )  # fmt: skip
    targets = TARGETS if analytics else VIDEO_TARGETS
    platform = await start_platform(settings, targets, with_metrics=False)
    assert platform.http is not None
    simulator = None
    try:
        admin = platform.token(subject="admin", org_id=PLATFORM_ORG, roles=["platform-admin"])
        simulator = await start_demo(
            platform.grpc_address, admin, cameras, render_cache(), rtsp_port=free_port(),
            analytics=analytics,
        )  # fmt: skip
        if analytics:  # the demo's gunshots, CAD incidents and hot list, as `make run`
            from rtcc.alerting.demo import start_demo_feed

            start_demo_feed(platform.runtime, organization_id=DEMO_ORG_ID, every_s=180)
        from rtcc.core.clients import open_channel

        async with open_channel(platform.grpc_address, lambda: admin) as channel:
            ids = await demo_camera_ids(channel)
        operator = platform.token(
            subject="op@demo", org_id=DEMO_ORG_ID, roles=["operator", "investigator"]
        )
        base = f"http://127.0.0.1:{platform.http.port}"
        yield DemoStack(platform, simulator, base, operator, sorted(ids))
    finally:
        if simulator is not None:
            await simulator.stop()
        await platform.stop(grace=0.5)


@asynccontextmanager
async def chromium(directory: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(directory), executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1440, "height": 900},
        )  # fmt: skip
        try:
            yield context
        finally:
            await context.close()


async def wait_until(check: Any, timeout_s: float, every_s: float = 0.25) -> Any:
    """Poll an async condition (in another process) until it is truthy, or time out."""
    async with asyncio.timeout(timeout_s):
        while not (result := await check()):  # noqa: ASYNC110
            await asyncio.sleep(every_s)
        return result
