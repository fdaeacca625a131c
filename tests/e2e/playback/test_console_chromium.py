"""The console in real headless Chromium: sign in, live tiles, recordings, refusals.

Frames are proven decoded through WebRTC's own statistics (inbound-rtp
framesDecoded rising), not by looking at the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"

FRAMES = """async (index) => {
  const player = window.rtcc.players[index];
  return player ? await framesDecoded(player.pc) : -1;
}"""


@pytest_asyncio.fixture
async def page(stack: Any, browser: Any) -> AsyncIterator[Any]:
    page = await browser.new_page()
    await page.goto(stack.base_url + "/")
    await page.fill("#token", stack.token())
    await page.click("#signin-button")
    await page.wait_for_selector("#camera-list li.camera-item")
    try:
        yield page
    finally:
        await page.close()


async def frames_rise(page: Any, index: int = 0, timeout_s: float = 10.0) -> tuple[int, int]:
    """Wait for a first decoded frame, then for more; return both counts."""

    async def frames_above(floor: int) -> int:
        count = int(await page.evaluate(FRAMES, index))
        return count if count > floor else 0

    first = await wait_until(lambda: frames_above(0), timeout_s)
    later = await wait_until(lambda: frames_above(first + 5), timeout_s)
    return first, later


async def session_json(stack: Any, session_id: str) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {stack.token()}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{stack.base_url}/api/sessions/{session_id}", headers=headers) as response,
    ):
        return response.status, await response.json()


async def wait_until(check: Any, timeout_s: float) -> Any:
    """Poll an async condition until it returns a truthy value (or time out).

    The conditions live in another process (the browser's stats, the server's
    sessions), so there is no event to await: polling with a timeout is the wait.
    """
    async with asyncio.timeout(timeout_s):
        while not (result := await check()):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        return result


async def test_live_tile_decodes_frames_passed_through(stack: Any, page: Any) -> None:
    await page.goto(stack.base_url + "/#/live/cam_a")
    first, later = await frames_rise(page)
    assert later > first > 0
    session_id = await page.evaluate("window.rtcc.players[0].sessionId")
    status, body = await session_json(stack, session_id)
    assert status == 200 and body["delivery"] == "passthrough"
    assert body["state"] == "playing"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "playback-live-tile.png"))


async def test_two_viewers_share_one_upstream(stack: Any, page: Any, browser: Any) -> None:
    opened = stack.ingest.live_streams_opened
    await page.goto(stack.base_url + "/#/live/cam_b")
    other = await browser.new_page()
    try:
        await other.goto(stack.base_url + "/")
        await other.fill("#token", stack.token("ben@city"))
        await other.click("#signin-button")
        await other.wait_for_selector("#camera-list li.camera-item")
        await other.goto(stack.base_url + "/#/live/cam_b")
        await frames_rise(page)
        await frames_rise(other)
    finally:
        await other.close()
    assert stack.ingest.live_streams_opened == opened + 1


async def test_recording_plays_across_segments_and_reports_the_gap(stack: Any, page: Any) -> None:
    await page.goto(stack.base_url + "/#/camera/cam_a")
    await page.wait_for_selector("#timeline rect.span")
    await page.select_option("#speed", "4")
    await page.click("#timeline rect.span >> nth=0")
    await page.wait_for_function(
        "window.rtcc.players.length === 1 && window.rtcc.players[0].sessionId"
    )
    await frames_rise(page)
    session_id = await page.evaluate("window.rtcc.players[0].sessionId")

    async def gap_seen() -> bool:
        status, body = await session_json(stack, session_id)
        return status == 200 and len(body["gaps"]) == 1

    await wait_until(gap_seen, 15)
    await frames_rise(page)  # still decoding after the jump to the second segment
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "playback-recording.png"))
    audit = await stack.platform.runtime.db.engine.connect()
    try:
        from sqlalchemy import text

        rows = (await audit.execute(text("select action, resource_id from audit_log"))).all()
    finally:
        await audit.close()
    assert ("playback.recorded.view", "cam_a") in [tuple(r) for r in rows]


async def test_denied_camera_is_refused(stack: Any, page: Any) -> None:
    await page.goto(stack.base_url + "/#/live/cam_denied")
    tile = page.locator(".tile[data-camera=cam_denied]")
    await tile.locator(".error").wait_for()
    assert await tile.get_attribute("data-error") == "403"
    assert await page.evaluate("window.rtcc.players.length") == 0


async def test_revoked_access_closes_the_running_session(stack: Any, page: Any) -> None:
    await page.goto(stack.base_url + "/#/live/cam_b")
    await frames_rise(page)
    session_id = await page.evaluate("window.rtcc.players[0].sessionId")
    stack.registry.access["cam_b"] = set()
    try:

        async def closed() -> bool:
            status, _ = await session_json(stack, session_id)
            return status == 404

        await wait_until(closed, 10)
    finally:
        stack.registry.access["cam_b"] = {"live"}


async def test_viewer_gone_without_delete_is_cleaned_up(stack: Any, page: Any) -> None:
    await page.goto(stack.base_url + "/#/live/cam_a")
    await frames_rise(page)
    session_id = await page.evaluate("window.rtcc.players[0].sessionId")
    await page.evaluate("window.rtcc.players[0].pc.close()")  # no DELETE

    async def closed() -> bool:
        status, _ = await session_json(stack, session_id)
        return status == 404

    await wait_until(closed, 10)


async def test_peer_without_h264_gets_vp8_frames(stack: Any, page: Any) -> None:
    session_id = await page.evaluate(
        """async (token) => {
          const video = document.createElement("video");
          video.muted = true; document.body.append(video);
          const player = await whepPlay("/whep/cameras/cam_a", token, video, ["video/VP8"]);
          window.rtcc.players.push(player);
          return player.sessionId;
        }""",
        stack.token(),
    )
    await frames_rise(page)
    status, body = await session_json(stack, session_id)
    assert status == 200 and body["delivery"] == "vp8"
