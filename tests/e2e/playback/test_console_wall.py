"""The 16-tile wall in headless Chromium on the real stack: one peer connection.

Registry, ingest and playback in one process, the simulator's RTSP server with the
demo's 16 street scenes, the console's own wall (wall.js, whep.js): every tile decodes
video over the one wall connection (POST /whep/wall) and moves to the sub stream; a
camera the viewer may not see is refused on its own tile with the registry's reason
while the others play.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from rtcc.common.v1 import common_pb2
from rtcc.core.auth import PLATFORM_ORG
from rtcc.core.clients import open_channel
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

from .demo_stack import DemoStack, chromium, running_demo, wait_until
from .test_console_real import ARTIFACTS, Errors

TILES = 16
# Frames decoded per tile: per section (mid) of the one wall connection.
FRAMES = """async () => {
  const counts = [];
  for (const p of window.rtcc.players) counts.push(await framesDecoded(p.pc, p.mid));
  return counts;
}"""


@pytest_asyncio.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoStack]:
    async with running_demo(tmp_path_factory.mktemp("wall"), TILES, analytics=False) as stack:

        async def all_online() -> bool:
            status, body = await stack.get("/api/cameras")
            online = [c for c in body.get("cameras", []) if c["status"] == "CAMERA_STATUS_ONLINE"]
            return status == 200 and len(online) == TILES

        await wait_until(all_online, 90, every_s=0.5)
        yield stack


@pytest_asyncio.fixture(scope="module")
async def context(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    async with chromium(tmp_path_factory.mktemp("chromium-wall")) as browser:
        yield browser


@pytest_asyncio.fixture
async def page(demo: DemoStack, context: Any) -> AsyncIterator[Any]:
    page = await context.new_page()
    errors = Errors()
    errors.watch(page)
    await page.goto(demo.base_url + "/")
    await page.fill("#token", demo.operator)
    await page.click("#signin-button")
    await page.wait_for_selector("#camera-list li.camera-item")
    try:
        yield page
    finally:
        await page.close()
    assert list(errors) == [], errors


async def tiles_decode(page: Any, count: int, timeout_s: float = 45) -> list[int]:
    async def decoding() -> list[int] | None:
        counts = await page.evaluate(FRAMES)
        return counts if len(counts) == count and all(c > 0 for c in counts) else None

    result: list[int] = await wait_until(decoding, timeout_s)
    return result


async def wall_session(demo: DemoStack, page: Any) -> dict[str, Any]:
    session_id = await page.evaluate("window.rtcc.players[0].sessionId")
    status, body = await demo.get(f"/api/sessions/{session_id}")
    assert status == 200, body
    return dict(body)


async def test_a_sixteen_tile_wall_shows_video_in_every_tile_over_one_connection(
    demo: DemoStack, page: Any
) -> None:
    await page.goto(demo.base_url + "/#/wall")
    await page.wait_for_selector("#tiles .tile")
    await page.click("button[data-layout='16']")
    await page.wait_for_selector("#tiles[data-layout='16']")
    await tiles_decode(page, TILES)
    assert await page.evaluate("window.rtccWall.fallback") is None
    assert await page.evaluate("new Set(window.rtcc.players.map((p) => p.pc)).size") == 1

    # A tile turns "playing" on its video's loadeddata event, which Chromium may fire
    # a moment after the decoder's first frame shows in the connection's statistics.
    async def all_playing() -> bool:
        return bool(await page.locator("#tiles .tile.playing").count() == TILES)

    await wait_until(all_playing, 10)
    shown = await page.evaluate("window.rtccWall.tiles.map((t) => t.cameraId)")
    assert sorted(shown) == sorted(demo.camera_ids)

    # Small tiles: the server moves each one to the sub stream at a keyframe, on the
    # same section; the video keeps decoding.
    async def all_on_sub() -> dict[str, Any] | None:
        wall = await wall_session(demo, page)
        return wall if all(t["stream"] == "sub" for t in wall["tiles"]) else None

    wall = await wait_until(all_on_sub, 30, every_s=0.5)
    assert wall["mode"] == "wall" and len(wall["tiles"]) == TILES
    before = await page.evaluate(FRAMES)
    await wait_until(
        lambda: _rose(page, before),
        15,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-wall-16.png"))


async def _rose(page: Any, before: list[int]) -> bool:
    now = await page.evaluate(FRAMES)
    return len(now) == len(before) and all(b > a for a, b in zip(before, now, strict=True))


async def foreign_camera(demo: DemoStack) -> str:
    """A camera of another organisation, which the demo's operator may not see."""
    admin = demo.platform.token(subject="admin", org_id=PLATFORM_ORG, roles=["platform-admin"])
    async with open_channel(demo.platform.grpc_address, lambda: admin) as channel:
        registry = registry_pb2_grpc.RegistryServiceStub(channel)
        org = await registry.CreateOrganization(
            registry_pb2.CreateOrganizationRequest(
                organization=registry_pb2.Organization(
                    display_name="Harbor Authority", kind=registry_pb2.ORGANIZATION_KIND_AGENCY
                )
            )
        )
        camera = registry_pb2.Camera(
            organization_id=org.organization.id, display_name="Harbor gate",
            external_id="harbor-gate",
            location=common_pb2.LatLng(latitude=40.70, longitude=-74.01),
            field_of_view=registry_pb2.FieldOfView(
                heading_degrees=90.0, angle_degrees=70.0, range_meters=60.0),
            streams=registry_pb2.CameraStreams(main_url=demo.simulator.cameras[0].main_url),
        )  # fmt: skip
        created = await registry.CreateCamera(registry_pb2.CreateCameraRequest(camera=camera))
        return str(created.camera.id)


async def test_a_camera_the_viewer_may_not_see_is_refused_on_its_tile_and_the_others_play(
    demo: DemoStack, page: Any
) -> None:
    foreign = await foreign_camera(demo)
    ids = [demo.camera_ids[0], foreign, demo.camera_ids[1], demo.camera_ids[2]]
    await page.goto(demo.base_url + "/#/wall")
    await page.wait_for_selector("#tiles .tile")
    # The console's camera list is a few seconds old: it still offers the camera (as it
    # would one whose sharing just ended); the server decides, per tile.
    await page.evaluate(
        """async ([ids, foreign]) => {
          const cam = { id: foreign, name: "Harbor gate", live: true,
                        status: "CAMERA_STATUS_ONLINE" };
          window.rtcc.cameras.push(cam);
          window.rtcc.byId.set(foreign, cam);
          window.rtccWall.fill(ids);
          await window.rtccWall.render();
        }""",
        [ids, foreign],
    )
    await tiles_decode(page, 3)
    assert await page.evaluate("window.rtccWall.fallback") is None
    refused = page.locator(f"#tiles .tile[data-camera='{foreign}']")
    # NOT_FOUND or PERMISSION_DENIED, as the registry decides for a camera not shared.
    assert await refused.get_attribute("data-error") in ("403", "404")
    reason = await refused.locator(".error").inner_text()
    assert reason.startswith("Refused: ") and foreign in reason, reason
    playing = await page.evaluate("window.rtcc.players.map((p) => p.cameraId)")
    assert playing == [ids[0], ids[2], ids[3]]
    wall = await wall_session(demo, page)
    assert [t["state"] for t in wall["tiles"]] == ["playing", "refused", "playing", "playing"]
    await page.screenshot(path=str(ARTIFACTS / "console-wall-refused.png"))
