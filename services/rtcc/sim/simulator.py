"""Start and stop the simulated cameras: render scenes, then run the RTSP server.

    async with Simulator(cameras=2, cache_dir=Path("var/sim")) as sim:
        sim.cameras[0].main_url   # rtsp://127.0.0.1:<port>/cam0

The RTSP server is `rtsp_server.py` under the system Python (the only one with
GStreamer's bindings), as a child process that dies with us. `start()` returns once
the server accepts connections; it never sleeps blindly.

A city on one machine: `Simulator(100, cache, main_size=(640, 360), bitrate="1M",
shared_media=True)` renders `variants` scenes once and serves each from one shared
pipeline at every camera URL that uses it (distinct URLs, same pictures), so the
server costs about 5 % of a core for 100 cameras instead of one pipeline each
(BENCHMARKS.md, "City scale").
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from rtcc.sim.render import RenderedScene, render
from rtcc.sim.scene import scene_for

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")


@dataclass(frozen=True, slots=True)
class SimulatedCamera:
    """One simulated camera: its streams and the ground truth of its scene."""

    index: int
    name: str
    main_url: str
    sub_url: str
    scene: RenderedScene

    def truth(self) -> dict[str, Any]:
        return json.loads(self.scene.truth.read_text())  # type: ignore[no-any-return]


class Simulator:
    """N cameras on one RTSP server at rtsp://127.0.0.1:<port>/cam<i>[/sub]."""

    def __init__(
        self,
        cameras: int,
        cache_dir: Path,
        *,
        port: int = 0,
        scene_seconds: float = 20.0,
        variants: int = 4,
        gop: int = 30,
        bitrate: str = "2M",
        renderer: Callable[[Path, int], RenderedScene] | None = None,
        main_size: tuple[int, int] | None = None,
        sub_bitrate: str = "500k",
        shared_media: bool = False,
    ) -> None:
        if cameras < 1:
            raise ValueError("cameras must be at least 1")
        self.count, self.cache_dir, self.port = cameras, cache_dir, port
        # Main-stream size (default the scene's 1280x720) and the sub stream's bitrate.
        self.main_size, self.sub_bitrate = main_size, sub_bitrate
        # One pipeline per rendered file, shared by every camera URL serving it.
        self.shared_media = shared_media
        # Renders camera i's scene into the cache (blocking); default: scripted scenes.
        self.renderer = renderer
        self.scene_seconds, self.variants = scene_seconds, max(1, variants)
        self.gop, self.bitrate = gop, bitrate
        self.cameras: list[SimulatedCamera] = []
        self._process: asyncio.subprocess.Process | None = None
        self.log_path = cache_dir / "rtsp-server.log"

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _render_all(self) -> list[RenderedScene]:
        scenes: dict[int, RenderedScene] = {}
        for variant in range(min(self.count, self.variants)):
            if self.renderer is not None:
                scenes[variant] = await asyncio.to_thread(self.renderer, self.cache_dir, variant)
                continue
            scene = scene_for(variant, self.scene_seconds)
            scenes[variant] = await asyncio.to_thread(
                render,
                scene,
                self.cache_dir,
                gop=self.gop,
                bitrate=self.bitrate,
                main_size=self.main_size,
                sub_bitrate=self.sub_bitrate,
            )
        return [scenes[i % self.variants] for i in range(self.count)]

    async def start(self, ready_within_s: float = 60.0) -> None:
        """Render (or reuse) the scenes, start the server, wait until it listens."""
        rendered = await self._render_all()
        mounts: list[str] = []
        for i, scene in enumerate(rendered):
            mounts += ["--mount", f"/cam{i}={scene.main}", "--mount", f"/cam{i}/sub={scene.sub}"]
        port = self.port or _free_port()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # A file, not a pipe: GStreamer warnings must never fill a pipe and stall the server.
        self.log_path = self.cache_dir / f"rtsp-server-{port}.log"
        with self.log_path.open("ab") as log_file:
            self._process = await self._spawn(port, mounts, log_file.fileno())
        try:
            await asyncio.wait_for(self._wait_ready(), ready_within_s)
        except BaseException:
            await self.stop()
            raise
        self.port = port
        base = f"rtsp://127.0.0.1:{port}"
        self.cameras = [
            SimulatedCamera(i, f"cam{i}", f"{base}/cam{i}", f"{base}/cam{i}/sub", scene)
            for i, scene in enumerate(rendered)
        ]

    async def _spawn(self, port: int, mounts: list[str], log_fd: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON,
            str(SERVER_SCRIPT),
            "--port",
            str(port),
            *(["--share"] if self.shared_media else []),
            *mounts,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_fd,
            preexec_fn=_die_with_parent,
        )

    async def _wait_ready(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line.startswith(b"READY"):
            await self._process.wait()
            tail = self.log_path.read_text(errors="replace")[-800:]
            raise RuntimeError(f"RTSP simulator failed to start: {tail}")

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    if sys.platform == "linux":
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
