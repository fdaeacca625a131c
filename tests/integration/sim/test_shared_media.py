"""A city's worth of simulated cameras: small streams, one shared pipeline per scene.

Six cameras over two rendered scenes at 640x360 and 1 Mbit/s, served with
`shared_media`: every camera URL streams, and the cameras showing the same scene join
the one pipeline already running for it (the server logs one MEDIA line per pipeline
it builds; without sharing each camera URL would build its own).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.waiting import wait_for

from rtcc.sim.simulator import Simulator


def _probe(url: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
         "-read_intervals", "%+3", "-show_entries", "stream=codec_name,width,height:packet=size",
         "-of", "json", url],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return json.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache = Path(tmp_path_factory.mktemp("city-sim"))
    sim = Simulator(
        6, cache, scene_seconds=4.0, variants=2, main_size=(640, 360), bitrate="1M",
        sub_bitrate="200k", shared_media=True,
    )  # fmt: skip
    async with sim:
        yield sim


async def test_every_camera_streams_640x360_and_one_scene_is_one_pipeline(city: Any) -> None:
    scene = city.cameras[0].scene.main
    # A viewer holds cam0's pipeline open; then every camera is read at once.
    holder = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
        "-i", city.cameras[0].main_url, "-t", "60", "-c", "copy", "-f", "null", "-",
    )  # fmt: skip
    try:
        await wait_for(
            lambda: f"MEDIA {scene}" in city.log_path.read_text(),
            within_s=30, what="cam0's pipeline",
        )  # fmt: skip
        probes = await asyncio.gather(
            *(asyncio.to_thread(_probe, c.main_url) for c in city.cameras)
        )
        built = city.log_path.read_text().count(f"MEDIA {scene}")
    finally:
        holder.kill()
        await holder.wait()
    for probe in probes:
        stream = probe["streams"][0]
        assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 640, 360)
        assert sum(int(p["size"]) for p in probe["packets"]) > 100_000  # ~1 Mbit/s for 3 s
    same_scene = [c.name for c in city.cameras if c.scene.main == scene]
    assert same_scene == ["cam0", "cam2", "cam4"]
    assert built == 1, f"{built} pipelines for the {len(same_scene)} cameras of one scene"


async def test_the_sub_stream_is_never_larger_than_the_main(city: Any) -> None:
    sub = (await asyncio.to_thread(_probe, city.cameras[0].sub_url))["streams"][0]
    assert (sub["width"], sub["height"]) == (640, 360)


def test_the_truth_says_the_stream_is_scaled(city: Any) -> None:
    truth = city.cameras[0].truth()
    assert truth["size"] == [1280, 720] and truth["stream_size"] == [640, 360]
    assert truth["box_scale"] == [0.5, 0.5]
