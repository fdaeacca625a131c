"""The operator's journey in headless Chromium against the real stack the demo runs.

Sign in -> map -> wall -> camera page and its timeline -> search -> play an event at
its instant; a plate search that finds the demo van's plate read by the real OCR; the
demo's alerts, selected and acknowledged from the keyboard.
Every view is screenshotted under artifacts/; a JavaScript error or a console error on
any page fails the test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from .demo_stack import DemoStack, chromium, running_demo, wait_until

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
# Frames decoded per player; a wall tile's player is one section (mid) of the wall's
# one peer connection.
FRAMES = """async () => {
  const counts = [];
  for (const p of window.rtcc.players) counts.push(await framesDecoded(p.pc, p.mid));
  return counts;
}"""


@pytest_asyncio.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoStack]:
    async with running_demo(tmp_path_factory.mktemp("demo"), cameras=2) as stack:
        yield stack


@pytest_asyncio.fixture(scope="module")
async def context(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    async with chromium(tmp_path_factory.mktemp("chromium-console")) as browser:
        yield browser


class Errors(list[str]):
    """JavaScript errors and console errors of one page."""

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            self.append(f"console.error: {message.text}" + (f" ({where})" if where else ""))


@pytest_asyncio.fixture
async def page(demo: DemoStack, context: Any) -> AsyncIterator[Any]:
    page = await context.new_page()
    errors = Errors()
    errors.watch(page)
    await page.goto(demo.base_url + "/")
    await page.fill("#token", demo.operator)
    await page.click("#signin-button")
    await page.wait_for_selector("#camera-list li.camera-item")
    page.errors = errors
    try:
        yield page
    finally:
        await page.close()
    assert list(errors) == [], errors


async def all_tiles_decode(page: Any, count: int, timeout_s: float = 30) -> list[int]:
    async def decoding() -> list[int] | None:
        counts = await page.evaluate(FRAMES)
        return counts if len(counts) == count and all(c > 0 for c in counts) else None

    result: list[int] = await wait_until(decoding, timeout_s)
    return result


async def person_event(demo: DemoStack) -> dict[str, Any]:
    """The first person event analytics stored (the footage has people from frame one)."""

    async def found() -> dict[str, Any] | None:
        status, body = await demo.get("/api/events?classes=person&page_size=5")
        return body["events"][-1] if status == 200 and body["events"] else None

    event: dict[str, Any] = await wait_until(found, 90, every_s=1.0)
    return event


async def test_map_shows_every_camera_by_name_with_status(demo: DemoStack, page: Any) -> None:
    items = page.locator("#camera-list li.camera-item")
    assert await items.count() == len(demo.camera_ids)
    names = await items.locator("a").all_inner_texts()
    assert all(name and not name.startswith("cam_") for name in names), names
    # Markers are drawn on a canvas (smooth at 10,000 cameras), so ask Leaflet for them.
    await page.wait_for_function(f"window.rtccMap.markers.size === {len(demo.camera_ids)}")
    assert await page.locator("#map-canvas .leaflet-tile-container canvas").count() > 0  # offline
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-map.png"))


async def test_wall_plays_every_tile_labelled_by_camera_name(demo: DemoStack, page: Any) -> None:
    await page.goto(demo.base_url + "/#/wall")
    await page.click("button[data-layout='4']")
    await all_tiles_decode(page, len(demo.camera_ids))
    labels = await page.locator("#tiles .tile[data-camera] .name").all_inner_texts()
    _, body = await demo.get("/api/cameras")
    assert sorted(labels) == sorted(c["name"] for c in body["cameras"])
    await page.keyboard.press("Escape")
    await page.keyboard.press("3")  # 9 tiles: the sub stream
    await page.wait_for_selector("#tiles[data-layout='9']")
    await all_tiles_decode(page, len(demo.camera_ids))
    # Small tiles start on the main stream (connected, its GOP cached); the server moves
    # each to the sub stream at the sub stream's next keyframe, on the same connection.
    session_id = await page.evaluate("window.rtcc.players[0].sessionId")

    async def on_sub() -> bool:
        status, body = await demo.get(f"/api/sessions/{session_id}")
        return status == 200 and all(t["stream"] == "sub" for t in body["tiles"])

    await wait_until(on_sub, 20, every_s=0.5)
    await all_tiles_decode(page, len(demo.camera_ids))
    await page.screenshot(path=str(ARTIFACTS / "console-wall.png"))


async def test_search_result_plays_the_recording_at_its_instant(demo: DemoStack, page: Any) -> None:
    event = await person_event(demo)
    camera_id = event["camera_id"]
    await page.goto(f"{demo.base_url}/#/camera/{camera_id}")
    await page.wait_for_selector("#timeline rect.span")
    await page.wait_for_selector("#timeline rect.event")
    await page.screenshot(path=str(ARTIFACTS / "console-camera.png"))

    await page.goto(demo.base_url + "/#/search")
    await page.select_option("#search-class", "person")
    await page.click("#search-button")
    results = page.locator("#search-results .result")
    await results.first.wait_for()
    loaded = "[...document.querySelectorAll('#search-results img')].some((i) => i.naturalWidth)"
    await page.wait_for_function(loaded)
    await page.screenshot(path=str(ARTIFACTS / "console-search.png"))
    chosen = results.first
    at = dt.datetime.fromisoformat(str(await chosen.get_attribute("data-time")))
    await chosen.click()
    await page.wait_for_selector("#camera-badge:text('recorded')")
    await all_tiles_decode(page, 1)
    session_id = await page.evaluate("window.rtcc.players[0].sessionId")

    async def position() -> dt.datetime | None:
        status, body = await demo.get(f"/api/sessions/{session_id}")
        if status != 200 or not body["position"]:
            return None
        return dt.datetime.fromisoformat(body["position"])

    played = await wait_until(position, 15)
    # Played from a few seconds before the event; a segment boundary may start it earlier.
    assert at - dt.timedelta(seconds=12) <= played <= at + dt.timedelta(seconds=10)
    await page.screenshot(path=str(ARTIFACTS / "console-playback-at-event.png"))


async def test_plate_search_finds_the_demo_van(demo: DemoStack, page: Any) -> None:
    from rtcc.sim.street import street_plates

    plates = {p for i in range(len(demo.camera_ids)) for p in street_plates(i)}

    status, body = await demo.get("/api/plates?plate=&mode=prefix")
    assert status == 400 and "plate" in body["error"]

    async def read() -> str | None:
        for plate in plates:
            status, body = await demo.get(f"/api/plates?plate={plate[:3]}&mode=prefix")
            if status == 200 and body["reads"]:
                return str(body["reads"][0]["plate"])
        return None

    plate = await wait_until(read, 120, every_s=2.0)
    await page.goto(demo.base_url + "/#/search")
    await page.check("input[name=kind][value=plates]")
    await page.fill("#search-plate", plate[:-1] + ("0" if plate[-1] != "0" else "1"))
    await page.select_option("#search-mode", "fuzzy")
    await page.click("#search-button")
    await page.locator("#search-results .result").first.wait_for()
    assert plate in await page.locator("#search-results").inner_text()
    await page.screenshot(path=str(ARTIFACTS / "console-plates.png"))


async def test_alerts_arrive_and_are_acknowledged_from_the_keyboard(
    demo: DemoStack, page: Any
) -> None:
    await page.goto(demo.base_url + "/#/alerts")
    items = page.locator("#alerts-mount li")
    await items.first.wait_for(timeout=30000)  # the demo feed's first gunshot and CAD call
    await page.keyboard.press("n")
    await page.locator("#alerts-mount li.selected").wait_for()
    title = await page.locator("#alerts-mount li.selected strong").inner_text()
    await page.locator("#alerts-mount button:text-is('acknowledge')").wait_for()
    await page.keyboard.press("k")
    await page.locator("#alerts-mount li.selected.state-acknowledged").wait_for()
    assert title
    await page.screenshot(path=str(ARTIFACTS / "console-alerts.png"))


async def test_cases_view_mounts_and_the_camera_page_offers_export(
    demo: DemoStack, page: Any
) -> None:
    await page.goto(f"{demo.base_url}/#/camera/{demo.camera_ids[0]}")
    export = page.locator("#export-clip")
    await export.wait_for()
    assert await export.is_enabled()
    await export.click()
    await page.wait_for_selector("#cases-mount .rtcc-cases")  # evidence's module, mounted
    await page.wait_for_selector("#cases:not([hidden])")
    await page.screenshot(path=str(ARTIFACTS / "console-cases.png"))
