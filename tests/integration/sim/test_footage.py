"""Natural footage (vtest.avi) rendered for RTSP and served by the simulator's server."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from rtcc.sim import footage
from rtcc.sim.simulator import SERVER_SCRIPT, SYSTEM_PYTHON, _free_port


def _probe(target: str, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,profile,width,height,avg_frame_rate,has_b_frames,nb_frames",
         "-of", "json", target],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return json.loads(out.stdout)["streams"][0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return footage.render_footage(Path(tmp_path_factory.mktemp("footage")))


def test_the_installed_footage_is_the_expected_file() -> None:
    path = footage.locate_footage(verify=True)
    assert path.stat().st_size == 8131690


def test_missing_footage_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RTCC_FOOTAGE_DIR", str(tmp_path))
    monkeypatch.setattr(footage, "SYSTEM_COPY", tmp_path / "none")
    with pytest.raises(footage.FootageMissing, match=r"infra/install-footage\.sh"):
        footage.locate_footage()
    (tmp_path / "vtest.avi").write_bytes(b"not the clip")
    assert footage.locate_footage() == tmp_path / "vtest.avi"
    with pytest.raises(footage.FootageMissing, match="SHA-256 differs"):
        footage.locate_footage(verify=True)


def test_renders_h264_without_b_frames_and_describes_itself(rendered: Any) -> None:
    main, sub = _probe(str(rendered.main)), _probe(str(rendered.sub))
    assert (main["codec_name"], main["width"], main["height"]) == ("h264", 768, 576)
    assert main["has_b_frames"] == 0 and main["avg_frame_rate"] == "10/1"
    assert int(main["nb_frames"]) == footage.FOOTAGE_FRAMES
    assert (sub["width"], sub["height"]) == (640, 480)
    facts = json.loads(rendered.truth.read_text())
    assert facts["natural"] and facts["sha256"] == footage.FOOTAGE_SHA256
    assert "Apache-2.0" in facts["licence"]
    again = footage.render_footage(rendered.main.parent.parent)
    assert again == rendered  # cached, not rendered twice


def test_loops_concatenate_the_clip(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        footage.render_footage(tmp_path, loops=0)


async def test_served_over_rtsp_the_frames_are_the_footage(rendered: Any) -> None:
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(port),
        "--mount", f"/cam0={rendered.main}", "--mount", f"/cam0/sub={rendered.sub}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = await asyncio.wait_for(server.stdout.readline(), 30)
        assert line.startswith(b"READY")
        frame = await asyncio.to_thread(_first_frame, f"rtsp://127.0.0.1:{port}/cam0")
    finally:
        server.terminate()
        await server.wait()
    assert frame.shape == (576, 768, 3)
    with av.open(str(rendered.main)) as container:
        reference = next(container.decode(video=0)).to_ndarray(format="bgr24")
    # The first frame served is the clip's first frame (lossy: compare coarsely).
    assert float(np.abs(frame.astype(int) - reference.astype(int)).mean()) < 12


def _first_frame(url: str) -> Any:
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=20) as container:
        for decoded in container.decode(video=0):
            return decoded.to_ndarray(format="bgr24")
    raise AssertionError("no frame")
