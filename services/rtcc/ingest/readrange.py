"""Join recorded segments into one fragmented MP4 for a time range (remux, no transcode).

Blocking (PyAV): run in a thread. The file starts at the keyframe at or before the
range's start so it decodes from its first frame; gaps between segments are skipped
(media time runs on across them), and the caller reports them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from rtcc.ingest.writer import FMP4_OPTIONS


@dataclass(frozen=True, slots=True)
class SegmentMedia:
    """A segment's file and the wall time its first frame was captured."""

    start_time: dt.datetime
    path: Path


@dataclass(frozen=True, slots=True)
class JoinedRange:
    start_time: dt.datetime
    end_time: dt.datetime
    packets: int


def join_segments(
    parts: list[SegmentMedia], start: dt.datetime, end: dt.datetime, out_path: Path
) -> JoinedRange:
    """Write the frames of `parts` within [start, end) (widened to a keyframe) to `out_path`."""
    output: Any = av.open(str(out_path), "w", format="mp4", options=FMP4_OPTIONS)
    out_stream: Any = None
    media_offset = 0.0  # seconds of media already written
    first_wall: dt.datetime | None = None
    last_wall = start
    count = 0
    try:
        for part in parts:
            with av.open(str(part.path)) as source:
                stream = source.streams.video[0]
                if out_stream is None:
                    out_stream = output.add_stream_from_template(stream)
                packets = _packets_in_range(source, stream, part.start_time, start, end)
                seg_first: float | None = None
                seg_last = 0.0
                for packet, seconds in packets:
                    if first_wall is None:
                        first_wall = part.start_time + dt.timedelta(seconds=seconds)
                    if seg_first is None:
                        seg_first = seconds
                    shift = round((media_offset - seg_first) / packet.time_base)
                    packet.pts += shift
                    packet.dts += shift
                    packet.stream = out_stream
                    output.mux(packet)
                    count += 1
                    frame = float((packet.duration or 0) * packet.time_base) or 1 / 15
                    seg_last = seconds + frame
                    last_wall = part.start_time + dt.timedelta(seconds=seg_last)
                if seg_first is not None:
                    media_offset += seg_last - seg_first
    finally:
        output.close()
    return JoinedRange(first_wall or start, last_wall, count)


def _packets_in_range(
    source: Any, stream: Any, seg_start: dt.datetime, start: dt.datetime, end: dt.datetime
) -> list[tuple[Any, float]]:
    """The segment's packets from the last keyframe at or before `start` to `end`."""
    lead = (start - seg_start).total_seconds()
    tail = (end - seg_start).total_seconds()
    chosen: list[tuple[Any, float]] = []
    for packet in source.demux(stream):
        if packet.pts is None or packet.size == 0:
            continue
        seconds = float((packet.dts if packet.dts is not None else packet.pts) * packet.time_base)
        if seconds >= tail:
            break
        if packet.is_keyframe and seconds <= lead:
            chosen = []  # a later keyframe still at or before the start: begin there
        chosen.append((packet, seconds))
    return chosen
