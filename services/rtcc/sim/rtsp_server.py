"""GStreamer RTSP server for the camera simulator (run under /usr/bin/python3).

`gi` (PyGObject with GstRtspServer) exists only for the system Python, so this file
is a standalone script started as a subprocess by `rtcc.sim.simulator`; it must not
import `rtcc`. Each mount serves an H.264 MP4 file looped for ever without a seam:
the file's access units are read into memory once, then an `appsrc` pushes them again
and again with timestamps shifted by one loop each time, so the RTSP client sees one
continuous stream (SPS/PPS in band, keyframes as encoded).

    /usr/bin/python3 rtsp_server.py --port 8554 --mount /cam0=main.mp4 --mount /cam0/sub=sub.mp4

With ``--share`` every mount of the same file is one media: one appsrc, parser and
payloader whose packets go to each client of any of those URLs, so a hundred cameras
cost about one pipeline per distinct file plus the sending to each client (the way
to simulate a city on a small machine). Without it each mount has its own pipeline.

Prints ``READY <port>`` on stdout once listening; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

_LAUNCH = (
    "( appsrc name=src format=time is-live=false ! h264parse config-interval=-1 ! "
    "video/x-h264,stream-format=byte-stream,alignment=au ! "
    "rtph264pay name=pay0 pt=96 config-interval=-1 )"
)


class Clip:
    """The access units of one H.264 file, held in memory."""

    def __init__(self, path: str) -> None:
        self.path = path
        pipeline = Gst.parse_launch(
            f'filesrc location="{path}" ! qtdemux ! h264parse ! '
            "video/x-h264,stream-format=avc,alignment=au ! appsink name=sink sync=false"
        )
        sink = pipeline.get_by_name("sink")
        pipeline.set_state(Gst.State.PLAYING)
        self.units: list[tuple[int, int, int, bool, bytes]] = []
        self.caps: Any = None
        while True:
            sample = sink.emit("pull-sample")
            if sample is None:
                break
            self.caps = self.caps or sample.get_caps()
            buf = sample.get_buffer()
            ok, info = buf.map(Gst.MapFlags.READ)
            data = bytes(info.data) if ok else b""
            buf.unmap(info)
            delta = bool(buf.get_flags() & Gst.BufferFlags.DELTA_UNIT)
            dts = buf.dts if buf.dts != Gst.CLOCK_TIME_NONE else buf.pts
            self.units.append((buf.pts, dts, buf.duration, delta, data))
        pipeline.set_state(Gst.State.NULL)
        if not self.units:
            raise SystemExit(f"no H.264 access units in {path}")
        last = self.units[-1]
        self.length = last[0] + max(last[2], 1)


class LoopFeeder:
    """Feeds one media's appsrc with a clip, looping with continuous timestamps."""

    def __init__(self, clip: Clip, appsrc: Any) -> None:
        self.clip, self.index, self.offset = clip, 0, 0
        appsrc.set_property("caps", clip.caps)
        appsrc.connect("need-data", self.on_need_data)

    def on_need_data(self, appsrc: Any, _length: int) -> None:
        pts, dts, duration, delta, data = self.clip.units[self.index]
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts, buf.dts, buf.duration = pts + self.offset, dts + self.offset, duration
        if delta:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        appsrc.emit("push-buffer", buf)
        self.index += 1
        if self.index == len(self.clip.units):
            self.index, self.offset = 0, self.offset + self.clip.length


class _SharedFactory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc]
    """A factory whose one media serves every URL it is mounted at.

    gst-rtsp-server keeps a factory's shared medias under a key made from the request
    URL, so each mount point would get a media of its own; one key for every URL makes
    all of them share the first media."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def do_gen_key(self, _url: Any) -> str:
        return self.key


def _factory(clip: Clip, shared_key: str = "") -> Any:
    factory = _SharedFactory(shared_key) if shared_key else GstRtspServer.RTSPMediaFactory()
    factory.set_launch(_LAUNCH)
    factory.set_shared(True)
    feeders: list[LoopFeeder] = []

    def configure(_factory: Any, media: Any) -> None:
        appsrc = media.get_element().get_child_by_name("src")
        feeders.append(LoopFeeder(clip, appsrc))
        del feeders[:-8]  # keep the live ones referenced, not every past one
        # One line per pipeline built (the log shows how many medias clients share).
        print(f"MEDIA {clip.path}", file=sys.stderr, flush=True)

    factory.connect("media-configure", configure)
    return factory


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", action="append", default=[], help="/path=file.mp4")
    parser.add_argument(
        "--share", action="store_true", help="one media per file, shared by all its mounts"
    )
    args = parser.parse_args(argv)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    clips: dict[str, Clip] = {}
    factories: dict[str, Any] = {}
    for spec in args.mount:
        path, _, file = spec.partition("=")
        if file not in clips:
            clips[file] = Clip(file)
        if not args.share:
            mounts.add_factory(path, _factory(clips[file]))
            continue
        if file not in factories:
            factories[file] = _factory(clips[file], shared_key=file)
        mounts.add_factory(path, factories[file])
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr, flush=True)
        return 2
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
