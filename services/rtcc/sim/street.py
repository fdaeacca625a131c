"""Demo street scenes the real detectors detect: natural people, a van with a plate.

The background is natural footage (OpenCV's ``vtest.avi``, people walking on a campus
road; see :mod:`rtcc.sim.footage`), so YOLO finds real people. No moving vehicle is in
it, so one is composed: the white van parked in the footage's first frame is cut out,
enlarged, given a readable licence plate (a different one per camera) and driven along
the road twice per loop. YOLO sees a van, RapidOCR reads the plate inside it
(``tests/unit/sim/test_street.py`` checks both with the real models).

    scene = render_street(Path("var/sim"), index=0)   # RenderedScene, cached by key
    street_plates(0)                                   # the plates that camera shows

Rendering is blocking (~10 s the first time, then cached): run it in a thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np

from rtcc.sim.footage import FOOTAGE_FPS, FOOTAGE_FRAMES, locate_footage
from rtcc.sim.render import RenderedScene
from rtcc.sim.scene import plate_for

# The parked white van in the footage's first frame (x, y, w, h), and how much it grows.
_VAN = (652, 46, 72, 52)
_SCALE = 2.6
SUB_SIZE = (384, 288)
# Two drives per loop: (start s, end s, y of the van's top, left-to-right?).
_DRIVES = ((3.0, 13.0, 170, False), (40.0, 50.0, 210, True))
# Where people walking count as entering a restricted area: the right half of the road,
# in normalised image coordinates (x, y), for the demo's analytics zone.
RESTRICTED_ZONE = ((0.55, 0.38), (0.98, 0.38), (0.98, 0.80), (0.55, 0.80))
_RENDER_VERSION = "street-2"

_X264 = [
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-bf", "0",
    "-profile:v", "main", "-x264-params", "sliced-threads=0", "-g", "20",
    "-keyint_min", "20", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
]  # fmt: skip


def street_plates(index: int) -> tuple[str, str]:
    """The two plates camera `index` shows, normalised (no space), e.g. ``RTC4821``."""
    return plate_for(index, 1).replace(" ", ""), plate_for(index, 2).replace(" ", "")


def van_sprite(first_frame: np.ndarray, plate: str, *, mirrored: bool = False) -> np.ndarray:
    """The footage's van, enlarged, with `plate` on a white plate at its rear (BGR).

    `mirrored` turns the van the other way (for drives left to right); the plate is
    drawn after, so it still reads.
    """
    x, y, w, h = _VAN
    van = first_frame[y : y + h, x : x + w]
    if mirrored:
        van = cv2.flip(van, 1)
    big = cv2.resize(van, (round(w * _SCALE), round(h * _SCALE)), interpolation=cv2.INTER_CUBIC)
    height, width = big.shape[:2]
    pw, ph = int(width * 0.62), int(height * 0.24)
    px, py = (width - pw) // 2, height - ph - int(height * 0.08)
    cv2.rectangle(big, (px, py), (px + pw, py + ph), (250, 250, 250), -1)
    cv2.rectangle(big, (px, py), (px + pw, py + ph), (20, 20, 20), 2)
    scale = ph / 38
    (tw, th), _ = cv2.getTextSize(plate, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    origin = (px + max(2, (pw - tw) // 2), py + (ph + th) // 2)
    cv2.putText(big, plate, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 2, cv2.LINE_AA)
    return big


def _first_frame(footage: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(footage))
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok:
        raise RuntimeError(f"cannot read a frame of {footage}")
    return frame


def _drive_expr(start: float, end: float, width: int, sprite_w: int, forward: bool) -> str:
    a, b = (-sprite_w, width) if forward else (width, -sprite_w)
    return f"{a}+({b}-({a}))*(t-{start})/({end}-{start})"


def filter_graph(sprite_w: int, width: int = 768, *, mirror: bool = False) -> str:
    """Overlay the two van sprites ([1], [2]) on the footage ([0]); outputs [main], [sub].

    `mirror` flips the footage itself, so neighbouring demo cameras do not look alike.
    """
    parts, label = [], "0:v"
    if mirror:
        parts.append("[0:v]hflip[base]")
        label = "base"
    for i, (start, end, top, forward) in enumerate(_DRIVES):
        x = _drive_expr(start, end, width, sprite_w, forward)
        src = f"{i + 1}:v"
        parts.append(
            f"[{label}][{src}]overlay=x='{x}':y={top}:shortest=1:enable='between(t,{start},{end})'[o{i}]"
        )
        label = f"o{i}"
    parts.append(f"[{label}]split[main][full];[full]scale={SUB_SIZE[0]}:{SUB_SIZE[1]}[sub]")
    return ";".join(parts)


def render_street(cache_dir: Path, index: int) -> RenderedScene:
    """Render camera `index`'s street scene unless an identical one is cached (blocking)."""
    footage = locate_footage()
    plates = street_plates(index)
    frame = _first_frame(footage)
    sprites = [van_sprite(frame, p, mirrored=d[3]) for p, d in zip(plates, _DRIVES, strict=True)]
    graph = filter_graph(sprites[0].shape[1], mirror=bool(index % 2))
    key = hashlib.sha256(f"{_RENDER_VERSION}|{graph}|{plates}".encode()).hexdigest()[:16]
    folder = cache_dir / f"street{index}-{key}"
    out = RenderedScene(folder / "main.mp4", folder / "sub.mp4", folder / "truth.json")
    if out.truth.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    inputs: list[str] = ["-i", str(footage)]
    for n, sprite in enumerate(sprites):
        path = folder / f"van{n}.png"
        cv2.imwrite(str(path), sprite)
        inputs += ["-loop", "1", "-framerate", str(FOOTAGE_FPS), "-i", str(path)]
    tmp_main, tmp_sub = folder / "main.tmp.mp4", folder / "sub.tmp.mp4"
    cmd = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *inputs,
        "-filter_complex", graph, "-t", str(FOOTAGE_FRAMES / FOOTAGE_FPS),
        "-map", "[main]", *_X264, "-b:v", "2M", "-maxrate", "2M", "-bufsize", "2M",
        str(tmp_main),
        "-map", "[sub]", *_X264, "-b:v", "400k", "-maxrate", "400k", "-bufsize", "400k",
        str(tmp_sub),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rendering street {index} failed: {result.stderr.strip()[-800:]}")
    os.replace(tmp_main, out.main)
    os.replace(tmp_sub, out.sub)
    truth = {
        "scene": f"street{index}",
        "source": str(footage.name),
        "fps": FOOTAGE_FPS,
        "plates": [
            {"text": p, "start_s": d[0], "end_s": d[1]}
            for p, d in zip(plates, _DRIVES, strict=True)
        ],
        "zone": {"id": "restricted", "polygon": [list(p) for p in RESTRICTED_ZONE]},
    }
    tmp_truth = folder / "truth.tmp.json"
    tmp_truth.write_text(json.dumps(truth))
    os.replace(tmp_truth, out.truth)  # last: its presence marks a complete render
    return out
