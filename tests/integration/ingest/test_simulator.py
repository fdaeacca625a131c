"""The camera simulator serves real RTSP with realistic H.264 and ground truth."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

from rtcc.sim.scene import FPS


def _probe(url: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
         "-read_intervals", "%+4", "-show_entries",
         "stream=codec_name,width,height,avg_frame_rate,has_b_frames:packet=flags,pts_time",
         "-of", "json", url],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return json.loads(out.stdout)  # type: ignore[no-any-return]


async def test_main_and_sub_streams_are_720p_and_360p_h264_without_b_frames(
    simulator: Any,
) -> None:
    cam = simulator.cameras[0]
    main, sub = await asyncio.gather(
        asyncio.to_thread(_probe, cam.main_url), asyncio.to_thread(_probe, cam.sub_url)
    )
    stream = main["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720)
    assert stream["has_b_frames"] == 0
    assert (sub["streams"][0]["width"], sub["streams"][0]["height"]) == (640, 360)
    keyframes = [
        float(p["pts_time"]) for p in main["packets"] if "K" in p["flags"] and "pts_time" in p
    ]
    assert len(keyframes) >= 2, "at least two GOPs in 4 s"
    gop = keyframes[1] - keyframes[0]
    assert 1.0 <= gop <= 2.0 + 1 / FPS


async def test_ground_truth_lies_beside_the_rendered_scene(simulator: Any) -> None:
    truth = simulator.cameras[1].truth()
    assert truth["fps"] == FPS and len(truth["frames"]) == round(truth["duration_s"] * FPS)
    assert any(e["object_id"] == "intruder" for e in truth["zone_entries"])
    assert all(len(p["text"]) == 8 for p in truth["plates"])
