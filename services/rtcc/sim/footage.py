"""Natural footage for demo cameras and the quality harness: real people on a campus road.

The footage is OpenCV's ``vtest.avi`` (768x576, 10 fps, 795 frames = 79.5 s) as Debian
ships it in ``opencv-doc`` (Debian main; its ``debian/copyright`` puts it under
``Files: *``: Apache-2.0 AND BSD-3-Clause). ``infra/install-footage.sh`` (run by
``make venv``) puts it under ``$RTCC_FOOTAGE_DIR`` (default
``${RTCC_TOOLS:-~/.cache/rtcc}/footage``); nothing here downloads anything.

    from rtcc.sim.footage import render_footage
    scene = render_footage(Path("var/sim"))      # RenderedScene: main.mp4, sub.mp4, truth.json
    # serve it like a simulator scene: rtsp_server.py --mount /cam0=<scene.main> ...

``render_footage`` returns the simulator's ``RenderedScene`` so it drops in wherever a
rendered scene does (``Simulator`` mounts ``main``/``sub``; the RTSP server loops a file
seamlessly). ``truth.json`` describes the footage (fps, size, source, licence, and the
hand-checked ground truth file of the quality harness, ``bench/data/vtest-truth.txt``,
whose frame numbers are the source's 0-based frame indexes).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from rtcc.sim.render import RenderedScene

FOOTAGE_FILE = "vtest.avi"
FOOTAGE_SHA256 = "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
FOOTAGE_FPS = 10.0
FOOTAGE_SIZE = (768, 576)
FOOTAGE_FRAMES = 795
LICENCE = (
    "OpenCV samples/data/vtest.avi from Debian's opencv-doc 4.6.0+dfsg-12 (Debian main); "
    "debian/copyright: Files: * - Apache-2.0 AND BSD-3-Clause"
)
# Where an installed opencv-doc package has it (unless dpkg excludes docs).
SYSTEM_COPY = Path("/usr/share/doc/opencv-doc/examples/data")
INSTALL_HINT = "run infra/install-footage.sh (make venv runs it)"
# The repository's ground truth for the harness (MOT format, frames of the source file).
TRUTH_FILE = Path(__file__).resolve().parents[3] / "bench" / "data" / "vtest-truth.txt"

# As the simulator's renders: no B-frames (browsers), one slice, 2 s GOP at 10 fps.
_X264 = [
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-bf", "0",
    "-profile:v", "main",
    "-x264-params", "sliced-threads=0", "-g", "20", "-keyint_min", "20",
    "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
]  # fmt: skip


class FootageMissing(Exception):
    """The footage is not installed (or is not the expected file)."""


def footage_dir() -> Path:
    explicit = os.environ.get("RTCC_FOOTAGE_DIR")
    if explicit:
        return Path(explicit)
    tools = os.environ.get("RTCC_TOOLS") or str(Path.home() / ".cache" / "rtcc")
    return Path(tools) / "footage"


def locate_footage(*, verify: bool = False) -> Path:
    """The installed ``vtest.avi``; FootageMissing with the fix when it is not there.

    ``verify`` also checks its SHA-256 (8 MB: ~20 ms), as the harness does: the ground
    truth only lines up with this exact file.
    """
    candidates = [footage_dir() / FOOTAGE_FILE, SYSTEM_COPY / FOOTAGE_FILE]
    for path in candidates:
        if path.is_file():
            if verify and _sha256(path) != FOOTAGE_SHA256:
                raise FootageMissing(
                    f"{path} is not the expected vtest.avi (SHA-256 differs): {INSTALL_HINT}"
                )
            return path
    raise FootageMissing(f"natural footage {FOOTAGE_FILE} is not installed: {INSTALL_HINT}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def render_footage(
    cache_dir: Path, *, loops: int = 1, sub_width: int = 640, bitrate: str = "2M"
) -> RenderedScene:
    """H.264 MP4s of the footage (main at 768x576, sub at ``sub_width``), cached (blocking).

    ``loops`` > 1 concatenates the clip that many times (for players that do not loop
    by themselves; the simulator's RTSP server loops any file without a seam). Rendering
    takes ~5 s on one core; an identical render in ``cache_dir`` is reused.
    """
    if loops < 1:
        raise ValueError("loops must be at least 1")
    source = locate_footage()
    key = hashlib.sha256(
        f"{FOOTAGE_SHA256}|{loops}|{sub_width}|{bitrate}|{_X264}".encode()
    ).hexdigest()[:16]
    folder = cache_dir / f"footage-vtest-{key}"
    out = RenderedScene(folder / "main.mp4", folder / "sub.mp4", folder / "truth.json")
    if out.truth.exists():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    tmp_main, tmp_sub = folder / "main.tmp.mp4", folder / "sub.tmp.mp4"
    sub_height = round(sub_width * FOOTAGE_SIZE[1] / FOOTAGE_SIZE[0] / 2) * 2
    cmd = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-stream_loop", str(loops - 1), "-i", str(source),
        "-filter_complex", f"[0:v]split=2[main][s];[s]scale={sub_width}:{sub_height}[sub]",
        "-map", "[main]", *_X264, "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate,
        str(tmp_main),
        "-map", "[sub]", *_X264, "-b:v", "600k", "-maxrate", "600k", "-bufsize", "600k",
        str(tmp_sub),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rendering the footage failed: {result.stderr.strip()[-800:]}")
    os.replace(tmp_main, out.main)
    os.replace(tmp_sub, out.sub)
    facts = {
        "name": "vtest",
        "natural": True,
        "source": str(source),
        "sha256": FOOTAGE_SHA256,
        "licence": LICENCE,
        "fps": FOOTAGE_FPS,
        "size": list(FOOTAGE_SIZE),
        "sub_size": [sub_width, sub_height],
        "frames_per_loop": FOOTAGE_FRAMES,
        "loops": loops,
        "ground_truth": str(TRUTH_FILE),
        "encoder": {"gop": 20, "bitrate": bitrate, "bframes": 0, "codec": "h264"},
    }
    tmp_truth = folder / "truth.tmp.json"
    tmp_truth.write_text(json.dumps(facts, indent=1))
    os.replace(tmp_truth, out.truth)  # last: its presence marks a complete render
    return out
