"""The segment writer copes with what cameras send: split pictures, bad timestamps."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import av

from rtcc.ingest.writer import SegmentWriter

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _split(packet: Any) -> list[Any]:
    """Cut an access unit in two at its last NAL start code, keeping the timestamps."""
    data = bytes(packet)
    cut = data.rfind(b"\x00\x00\x00\x01")
    if cut <= 0:
        return [packet]
    halves = []
    for piece in (data[:cut], data[cut:]):
        half = av.Packet(piece)
        half.pts, half.dts, half.time_base = packet.pts, packet.dts, packet.time_base
        half.is_keyframe = packet.is_keyframe
        halves.append(half)
    return halves


def _frames(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(json.loads(out.stdout)["streams"][0]["nb_read_frames"])


def test_split_pictures_are_joined_and_backward_timestamps_dropped(
    simulator: Any, tmp_path: Path
) -> None:
    source_path = simulator.cameras[0].scene.main
    with av.open(str(source_path)) as source:
        stream = source.streams.video[0]
        # The RTSP demuxer hands out Annex B; so does this bitstream filter.
        bsf = av.BitStreamFilterContext("h264_mp4toannexb", stream)
        writer = SegmentWriter(
            tmp_path / "seg.mp4", stream, camera_id="cam_x", stream=1, start_time=T0,
            discontinuity=False,
        )  # fmt: skip
        count = 0
        previous = None
        for raw in source.demux(stream):
            if raw.pts is None or count >= 45:
                continue
            for packet in bsf.filter(raw):
                for piece in _split(packet) if packet.is_keyframe else [packet]:
                    writer.write(piece)
                if previous is not None and count == 20:
                    writer.write(previous)  # a stale, out-of-order packet: dropped
                previous = packet
                count += 1
        closed = writer.close(T0 + dt.timedelta(seconds=3))
    assert closed.frames == 45 and writer.dropped == 1
    assert _frames(tmp_path / "seg.mp4") == 45
