"""Playback in headless Chromium: time to first decoded frame, and CPU per viewer.

Runs the playback target over the in-test stand-ins for ingest and the registry
(tests/e2e/playback/conftest.py: a 320x240, 15 fps, GOP-15 H.264 clip rendered by
ffmpeg, served live at its frame rate and as two recorded segments), and drives
Debian's Chromium through Playwright.

- First frame: from the browser creating its offer to inbound-rtp framesDecoded > 0,
  p50/p95 over N sessions: live with a cold upstream (first viewer of the camera),
  live with a warm one (another viewer already watching: the relay's cached GOP),
  and recorded (ReadRange + demux of a segment).
- CPU per viewer: this process's CPU time (all threads) over a window with K
  viewers minus the same with one viewer, divided by K-1: passthrough, VP8, and a
  camera with a privacy mask (decode, mask, H.264 encode per viewer); and K cameras
  with one viewer each (each pays its upstream too). Viewers per core = 1 / the
  marginal cost; the stand-in ingest's own work is in the anchor.
  The anchor is the one-viewer figure, which also pays for the upstream.

    .venv/bin/python bench/playback_first_frame.py [--sessions N] [--viewers K]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

FIRST_FRAME = """async ([url, token, keep]) => {
  const video = document.createElement("video");
  video.muted = true; document.body.append(video);
  const t0 = performance.now();
  const player = await whepPlay(url, token, video);
  while ((await framesDecoded(player.pc)) === 0) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - t0;
  if (keep) window.rtcc.players.push(player); else { await player.stop(); video.remove(); }
  return ms;
}"""

OPEN = """async ([url, token, count, codecs]) => {
  for (let i = 0; i < count; i++) {
    const video = document.createElement("video");
    video.muted = true; document.body.append(video);
    window.rtcc.players.push(await whepPlay(url, token, video, codecs));
  }
  return window.rtcc.players.length;
}"""


def _load_stack() -> Any:
    path = ROOT / "tests" / "e2e" / "playback" / "conftest.py"
    spec = importlib.util.spec_from_file_location("playback_standins", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def first_frames(page: Any, url: str, token: str, n: int, keep: bool = False) -> list[float]:
    return [await page.evaluate(FIRST_FRAME, [url, token, keep]) for _ in range(n)]


async def cpu_share(page: Any, urls: list[str], token: str, codecs: Any) -> float:
    """Fraction of one core this process uses while one viewer per URL watches."""
    await page.evaluate(
        "async () => { for (const p of window.rtcc.players.splice(0)) await p.stop(); }"
    )
    for url in urls:
        await page.evaluate(OPEN, [url, token, 1, codecs])
    await asyncio.sleep(2)  # let the sessions settle before measuring
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(8)  # the measurement window
    return (time.process_time() - cpu0) / (time.monotonic() - wall0)


async def first_frame_table(page: Any, stack: Any, sessions: int) -> None:
    token, live = stack.token(), "/whep/cameras/cam_a"
    start = stack.ingest.t0.isoformat().replace("+00:00", "Z")
    cold = await first_frames(page, live, token, sessions)
    recorded = await first_frames(page, f"{live}?start={start}", token, sessions)
    await first_frames(page, live, token, 1, keep=True)  # keeps the upstream warm
    shared = await first_frames(page, live, token, sessions)
    title = f"time to first decoded frame (Chromium, loopback, n={sessions})"
    print(f"| {title} | p50 ms | p95 ms |")
    print("|---|---|---|")
    for name, values in [("live, cold upstream", cold), ("live, shared upstream", shared),
                         ("recorded", recorded)]:  # fmt: skip
        print(f"| {name} | {statistics.median(values):.0f} | {_pct(values, 0.95):.0f} |")
    print()


async def cpu_table(page: Any, stack: Any, viewers: int) -> None:
    token, live = stack.token(), "/whep/cameras/cam_a"
    print(f"| CPU of the playback process, {viewers} viewers | 1 viewer (anchor) | "
          "per extra viewer | viewers per core |")  # fmt: skip
    print("|---|---|---|---|")
    cases = [
        ("one camera, H.264 passthrough", live, None),
        ("one camera, VP8 re-encode (peer without H.264)", live, ["video/VP8"]),
        ("one camera with a privacy mask (decode, mask, H.264 encode)",
         "/whep/cameras/cam_masked", None),
    ]  # fmt: skip
    for name, url, codecs in cases:
        one = await cpu_share(page, [url], token, codecs)
        many = await cpu_share(page, [url] * viewers, token, codecs)
        per = (many - one) / (viewers - 1)
        print(f"| {name} | {one * 100:.1f}% | {per * 100:.1f}% | {1 / max(per, 1e-3):.0f} |")
    cameras = [f"cam_m{i}" for i in range(viewers)]
    for cam in cameras:  # the stand-ins serve any camera the registry stand-in knows
        stack.registry.names[cam] = cam
        stack.registry.access[cam] = {"live"}
    one = await cpu_share(page, [live], token, None)
    many = await cpu_share(page, [f"/whep/cameras/{c}" for c in cameras], token, None)
    per = (many - one) / (viewers - 1)
    name = f"{viewers} cameras, one passthrough viewer each (upstream + viewer)"
    print(f"| {name} | {one * 100:.1f}% | {per * 100:.1f}% | {1 / max(per, 1e-3):.0f} |")


async def run(sessions: int, viewers: int) -> None:
    from playwright.async_api import async_playwright

    standins = _load_stack()
    with tempfile.TemporaryDirectory() as tmp:
        async with standins.running_stack(Path(tmp)) as stack, async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                str(Path(tmp) / "chromium"), executable_path="/usr/bin/chromium",
                headless=True, args=standins.CHROMIUM_ARGS,
            )  # fmt: skip
            page = await context.new_page()
            await page.goto(stack.base_url + "/")
            await first_frame_table(page, stack, sessions)
            await cpu_table(page, stack, viewers)
            await context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--viewers", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run(args.sessions, args.viewers))


if __name__ == "__main__":
    main()
