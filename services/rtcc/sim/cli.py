"""`rtcc sim`: serve simulated cameras over RTSP until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path
from typing import Any

from rtcc.sim.simulator import Simulator


def add_commands(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim", help="serve simulated RTSP cameras with scripted scenes and ground truth"
    )
    parser.add_argument("--cameras", type=int, default=4, help="how many cameras (default 4)")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port on 127.0.0.1")
    parser.add_argument("--scene-seconds", type=float, default=20.0, help="length of a loop")
    parser.add_argument("--cache-dir", type=Path, default=Path("var/sim"))
    parser.add_argument(
        "--size", type=_size, default=None, help="main stream WIDTHxHEIGHT (default 1280x720)"
    )
    parser.add_argument("--bitrate", default="2M", help="main stream bitrate (default 2M)")
    parser.add_argument("--sub-bitrate", default="500k", help="sub stream bitrate")
    parser.add_argument(
        "--shared",
        action="store_true",
        help="serve each rendered scene from one pipeline shared by all its cameras "
        "(100+ cameras on a small machine)",
    )
    parser.add_argument("--registry", default="", help="registry HOST:PORT to register in")
    parser.add_argument("--token", default="", help="bearer token for the registry")
    parser.add_argument("--organization", default="", help="owning organisation id")
    parser.set_defaults(run=run, is_async=True)


async def run(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Simulator(
        args.cameras,
        args.cache_dir,
        port=args.port,
        scene_seconds=args.scene_seconds,
        bitrate=args.bitrate,
        main_size=args.size,
        sub_bitrate=args.sub_bitrate,
        shared_media=args.shared,
    ) as sim:
        for cam in sim.cameras:
            print(f"{cam.name}  {cam.main_url}  {cam.sub_url}  truth={cam.scene.truth}", flush=True)
        if args.registry:
            from rtcc.core.clients import open_channel
            from rtcc.sim.registration import register_cameras

            token = args.token
            channel = open_channel(args.registry, (lambda: token) if token else None)
            async with channel:
                ids = await register_cameras(
                    channel, sim.cameras, organization_id=args.organization
                )
            print("registered: " + " ".join(ids), flush=True)
        await stop.wait()
    return 0


def _size(text: str) -> tuple[int, int]:
    """'640x360' -> (640, 360): even, 64x36 to 3840x2160 (what H.264 cameras send)."""
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 640x360")
    w, h = int(width), int(height)
    if not (64 <= w <= 3840 and 36 <= h <= 2160) or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(
            f"size {text!r}: width 64-3840 and height 36-2160, both even"
        )
    return w, h
