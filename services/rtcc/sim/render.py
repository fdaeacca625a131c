"""Render a scene once into a cache of H.264 MP4 files plus its ground truth JSON.

The cache key is a hash of the filter graph and encoder settings, so a changed scene
renders again and an unchanged one is reused across runs (tests, `make run`, bench).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rtcc.sim.scene import Scene, filter_graph, ground_truth

# Realistic camera encoder settings: no B-frames, 2 s GOP at 15 fps, ~2 Mbit/s main.
# One slice per picture (zerolatency would slice each picture per thread), as most
# cameras send; a multi-slice IDR also gets split into two packets by some depayloaders.
_X264 = [
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0",
    "-x264-params", "sliced-threads=0",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class RenderedScene:
    """Where one rendered scene lives on disk."""

    main: Path
    sub: Path
    truth: Path


def _encoder_args(gop: int, bitrate: str) -> list[str]:
    return [
        *_X264,
        "-g",
        str(gop),
        "-keyint_min",
        str(gop),
        "-sc_threshold",
        "0",
        "-b:v",
        bitrate,
        "-maxrate",
        bitrate,
        "-bufsize",
        bitrate,
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
    ]


def render(
    scene: Scene,
    cache_dir: Path,
    *,
    gop: int = 30,
    bitrate: str = "2M",
    main_size: tuple[int, int] | None = None,
    sub_bitrate: str = "500k",
) -> RenderedScene:
    """Render `scene` into `cache_dir` unless an identical render is there (blocking).

    `main_size` scales the main stream (default: the scene's 1280x720); the ground
    truth stays in scene pixels and says the stream's size and scale.
    """
    graph = filter_graph(scene, main_size)
    rates = f"{gop}|{bitrate}" if sub_bitrate == "500k" else f"{gop}|{bitrate}|{sub_bitrate}"
    key = hashlib.sha256(f"{graph}|{rates}".encode()).hexdigest()[:16]
    folder = cache_dir / f"{scene.name}-{key}"
    out = RenderedScene(folder / "main.mp4", folder / "sub.mp4", folder / "truth.json")
    if out.truth.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    tmp_main, tmp_sub = folder / "main.tmp.mp4", folder / "sub.tmp.mp4"
    cmd = [
        "ffmpeg",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-filter_complex",
        graph,
        "-map",
        "[main]",
        *_encoder_args(gop, bitrate),
        str(tmp_main),
        "-map",
        "[sub]",
        *_encoder_args(gop, sub_bitrate),
        str(tmp_sub),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rendering scene {scene.name} failed: {result.stderr.strip()[-800:]}")
    os.replace(tmp_main, out.main)
    os.replace(tmp_sub, out.sub)
    truth = ground_truth(scene)
    truth["encoder"] = {"gop": gop, "bitrate": bitrate, "bframes": 0, "codec": "h264"}
    if main_size is not None and tuple(main_size) != tuple(truth["size"]):
        # Boxes are in scene pixels ("size"); multiply by box_scale for stream pixels.
        truth["stream_size"] = list(main_size)
        truth["box_scale"] = [main_size[0] / truth["size"][0], main_size[1] / truth["size"][1]]
    tmp_truth = folder / "truth.tmp.json"
    tmp_truth.write_text(json.dumps(truth))
    os.replace(tmp_truth, out.truth)  # last: its presence marks a complete render
    return out
