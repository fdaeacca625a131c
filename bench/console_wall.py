"""The operator console in headless Chromium on the real stack: wall first frames, map.

Starts what `make run` starts, less analytics (registry, ingest, playback in one
process, embedded backends; the simulator's RTSP server with the demo's street scenes,
768x576 10 fps H.264 GOP 20, sub stream 384x288) with 16 cameras, and drives Debian's
Chromium through Playwright.

- Live wall: the console's own wall (wall.js) at 1, 4 and 16 tiles, each tile a
  different camera; per tile, from the wall opening it to the video's first decoded
  frame (`loadeddata`): p50/p95 over every tile of R openings. Both ways the console
  can open a wall, alternating round by round in the same run: one peer connection for
  the whole wall (`POST /whep/wall`, the default) and one WHEP session per tile (the
  fallback). Small tiles start on the main stream (connected, last GOP cached) and move
  to the sub stream afterwards.
- Recorded: the same number of recorded sessions opened at once (one per camera, from
  20 s ago), first decoded frame per session.
- Map: 10,000 cameras given to the map (clustered canvas markers): time to take them
  and paint, then frame times while panning (requestAnimationFrame intervals).

    .venv/bin/python bench/console_wall.py [--cameras 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

WALL = """async ([layout, ids, transport]) => {
  window.rtccWall.transport = transport;
  window.rtccWall.fill(ids.slice(0, layout));
  window.rtccWall.layout = layout;
  await window.rtccWall.render();
  const deadline = performance.now() + 20000;
  while (performance.now() < deadline) {
    const tiles = window.rtccWall.tiles;
    if (tiles.length === layout && tiles.every((t) => t.firstFrameMs !== null)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (transport === "wall" && window.rtccWall.fallback !== null) {
    throw new Error("the wall fell back to per-tile sessions: " + window.rtccWall.fallback);
  }
  const times = window.rtccWall.tiles.map((t) => t.firstFrameMs ?? 20000);
  const timing = (window.rtcc.players[0] || {}).timing || {};
  return { times, answered: timing.answered ?? null };
}"""
TRANSPORTS = {"wall": "one connection", "tiles": "a session per tile"}

RECORDED = """async ([ids, startIso]) => {
  await window.rtcc.stopPlayers();
  const times = await Promise.all(ids.map(async (id) => {
    const video = document.createElement("video");
    video.muted = true; document.body.append(video);
    const t0 = performance.now();
    const first = new Promise((r) => video.addEventListener("loadeddata", r, { once: true }));
    const url = `/whep/cameras/${encodeURIComponent(id)}?start=${encodeURIComponent(startIso)}`;
    const player = await whepPlay(url, window.rtcc.token, video);
    window.rtcc.players.push(player);
    await Promise.race([first, new Promise((r) => setTimeout(r, 20000))]);
    return performance.now() - t0;
  }));
  await window.rtcc.stopPlayers();
  for (const v of document.querySelectorAll("body > video")) v.remove();
  return times;
}"""

MAP = """async (n) => {
  const cams = [];
  let seed = 7;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < n; i++) {
    cams.push({ id: "cam_b" + i, name: "Bench camera " + i, lat: 40.60 + rnd() * 0.25,
      lng: -74.10 + rnd() * 0.25, heading: rnd() * 360, angle: 60, live: true,
      status: "CAMERA_STATUS_ONLINE" });
  }
  window.rtcc.cameras = cams;
  window.rtcc.byId = new Map(cams.map((c) => [c.id, c]));
  const m = window.rtccMap;
  m.fitted = false;
  const t0 = performance.now();
  m.setCameras(cams);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const first = performance.now() - t0;
  const frames = [];
  let last = performance.now();
  let running = true;
  const tick = (t) => {
    frames.push(t - last); last = t;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  for (let i = 0; i < 30; i++) {
    m.map.panBy([i % 2 ? -120 : 120, 60 * (i % 3 - 1)], { animate: true, duration: 0.25 });
    await new Promise((r) => setTimeout(r, 280));
  }
  m.map.setZoom(m.map.getZoom() + 2);
  await new Promise((r) => setTimeout(r, 600));
  running = false;
  return { first, frames: frames.slice(2) };
}"""


def _load(name: str) -> Any:
    path = ROOT / "tests" / "e2e" / "playback" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(name: str, values: list[float]) -> str:
    p50, p95 = statistics.median(values), _pct(values, 0.95)
    return f"| {name} | {len(values)} | {p50:.0f} | {p95:.0f} | {max(values):.0f} |"


async def _signed_in(context: Any, stack: Any) -> Any:
    page = await context.new_page()
    await page.goto(stack.base_url + "/")
    await page.fill("#token", stack.operator)
    await page.click("#signin-button")
    await page.wait_for_selector("#camera-list li.camera-item")
    return page


async def wall_table(page: Any, stack: Any, rounds: int) -> None:
    ids = stack.camera_ids
    await page.goto(stack.base_url + "/#/wall")
    await page.wait_for_selector("#tiles .tile")
    print("| first decoded frame per tile (Chromium, real stack) | tiles measured | p50 ms "
          "| p95 ms | max ms |")  # fmt: skip
    print("|---|---|---|---|---|")
    answers: list[float] = []
    for layout in (1, 4, 16):
        if layout > len(ids):
            continue
        # One tile is one WHEP session either way (wall.js opens a wall from two tiles).
        transports = TRANSPORTS if layout > 1 else {"tiles": "one session"}
        samples: dict[str, list[float]] = {t: [] for t in transports}
        for _ in range(rounds if layout > 1 else rounds * 4):
            for transport in transports:  # alternating: both see the same load
                result = await page.evaluate(WALL, [layout, ids, transport])
                samples[transport] += result["times"]
                if transport == "wall" and layout == 16 and result["answered"] is not None:
                    answers.append(result["answered"])
        for transport, name in transports.items():
            tiles = f"{layout} tile{'s' if layout > 1 else ''}"
            print(_row(f"live wall, {tiles}, {name}", samples[transport]))
    await page.goto(stack.base_url + "/#/map")
    import datetime as dt

    start = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=20)).isoformat()
    for count in (1, 4, 16):
        if count > len(ids):
            continue
        samples = []
        for _ in range(rounds if count > 1 else rounds * 4):
            samples += await page.evaluate(RECORDED, [ids[:count], start])
        print(_row(f"recorded, {count} session{'s' if count > 1 else ''} at once", samples))
    print()
    if answers:
        print(f"16-tile wall offer answered (gathering + POST /whep/wall) p50 "
              f"{statistics.median(answers):.0f} ms, max {max(answers):.0f} ms\n")  # fmt: skip


async def map_table(page: Any, stack: Any, n: int) -> None:
    await page.goto(stack.base_url + "/#/map")
    await page.wait_for_function("window.rtccMap.map !== null")
    result = await page.evaluate(MAP, n)
    frames = result["frames"]
    print(f"| map, {n:,} cameras (clustered canvas markers) | ms |")
    print("|---|---|")
    print(f"| first render (take every camera, paint) | {result['first']:.0f} |")
    print(f"| pan/zoom frame time p50 ({len(frames)} frames) | {statistics.median(frames):.1f} |")
    print(f"| pan/zoom frame time p95 | {_pct(frames, 0.95):.1f} |")
    print()


async def run(cameras: int, rounds: int) -> None:
    demo = _load("demo_stack")
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            demo.running_demo(Path(tmp), cameras, analytics=False) as stack,
            demo.chromium(Path(tmp) / "chromium") as context,
        ):

            async def all_connected() -> bool:
                status, body = await stack.get("/api/cameras")
                online = [c for c in body["cameras"] if c["status"] == "CAMERA_STATUS_ONLINE"]
                return status == 200 and len(online) == cameras

            await demo.wait_until(all_connected, 60, every_s=0.5)

            async def recorded() -> bool:  # ingest closes segments every few seconds
                status, body = await stack.get(f"/api/cameras/{stack.camera_ids[-1]}/recordings")
                return status == 200 and bool(body["spans"])

            await demo.wait_until(recorded, 60, every_s=0.5)
            page = await _signed_in(context, stack)
            print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)\n")
            await wall_table(page, stack, rounds)
            await map_table(page, stack, 10_000)
            print(f"load average at end: {os.getloadavg()[0]:.1f} (2 cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.cameras, args.rounds))


if __name__ == "__main__":
    main()
