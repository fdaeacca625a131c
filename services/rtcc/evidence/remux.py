"""Remux recorded segments into one MP4 clip (no transcode), and find the gaps.

Blocking (PyAV): run in a thread. The clip starts at the keyframe at or before the
range's start so it decodes from its first frame and ends before the range's end.
Across a gap media time runs on (the gap is skipped, not filled) and the gaps are
reported beside the clip. The output is a plain (not fragmented) MP4, the form court
and desktop players expect. Its index (moov) is written at the end: moving it to the
front (``+faststart``) rewrites the whole file and cost 60 % more time for nothing a
player needs (browsers fetch the index with a range request, which the share links
serve). Segments are opened without probing (their codec parameters are in the
init segment), which was most of the time per segment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

CLIP_OPTIONS: dict[str, str] = {}
# Enough to read the init segment; probing further decodes frames for nothing.
OPEN_OPTIONS = {"probesize": "32", "analyzeduration": "0"}
GAP_TOLERANCE = dt.timedelta(milliseconds=250)


@dataclass(frozen=True, slots=True)
class Part:
    """One segment file and the capture times of its first frame and its end."""

    start_time: dt.datetime
    end_time: dt.datetime
    path: Path


@dataclass(frozen=True, slots=True)
class Span:
    start_time: dt.datetime
    end_time: dt.datetime


@dataclass(frozen=True, slots=True)
class Clip:
    start_time: dt.datetime
    end_time: dt.datetime
    packets: int


def find_gaps(spans: list[Span], start: dt.datetime, end: dt.datetime) -> list[Span]:
    """The parts of [start, end) no span covers, ignoring slivers under 250 ms. Pure."""
    gaps: list[Span] = []
    cursor = start
    for span in sorted(spans, key=lambda s: s.start_time):
        if span.start_time - cursor > GAP_TOLERANCE:
            gaps.append(Span(cursor, min(span.start_time, end)))
        cursor = max(cursor, span.end_time)
        if cursor >= end:
            break
    if end - cursor > GAP_TOLERANCE:
        gaps.append(Span(cursor, end))
    return gaps


def remux(
    parts: Iterable[Part],
    start: dt.datetime,
    end: dt.datetime,
    out_path: Path,
    progress: Callable[[int], None] | None = None,
    *,
    discard: bool = False,
) -> Clip:
    """Write the video of `parts` within [start, end) to `out_path`; ValueError when
    no frame falls in the range. `parts` may be a lazy iterator (the exporter feeds it
    while fetching); with `discard` each part's file is removed once read.
    `progress(n)` is called after the n-th part."""
    output: Any = av.open(str(out_path), "w", format="mp4", options=CLIP_OPTIONS)
    out_stream: Any = None
    offset = 0.0  # seconds of media already written
    first_wall: dt.datetime | None = None
    last_wall = start
    count = 0
    try:
        for n, part in enumerate(parts, start=1):
            with av.open(str(part.path), format="mp4", options=OPEN_OPTIONS) as source:
                stream = source.streams.video[0]
                chosen = _packets_in_range(source, stream, part.start_time, start, end)
                if chosen and out_stream is None:
                    out_stream = output.add_stream_from_template(stream)
                seg_first: float | None = None
                seg_last = 0.0
                for packet, seconds in chosen:
                    if first_wall is None:
                        first_wall = part.start_time + dt.timedelta(seconds=seconds)
                    if seg_first is None:
                        seg_first = seconds
                    shift = round((offset - seg_first) / packet.time_base)
                    packet.pts += shift
                    packet.dts += shift
                    packet.stream = out_stream
                    output.mux(packet)
                    count += 1
                    frame = float((packet.duration or 0) * packet.time_base) or 1 / 15
                    seg_last = seconds + frame
                    last_wall = part.start_time + dt.timedelta(seconds=seg_last)
                if seg_first is not None:
                    offset += seg_last - seg_first
            if discard:
                part.path.unlink(missing_ok=True)
            if progress is not None:
                progress(n)
    finally:
        try:
            output.close()
        except av.FFmpegError:
            if out_stream is not None:  # with nothing muxed, a failed close is expected
                raise
    if first_wall is None:
        raise ValueError("no recorded frame falls in the range")
    return Clip(first_wall, last_wall, count)


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


def snapshot_jpeg(segment: bytes, offset_s: float) -> bytes:
    """The frame of a segment nearest at or after `offset_s` seconds, as JPEG. Blocking."""
    import io

    container: Any = av.open(io.BytesIO(segment))
    with container as source:
        stream = source.streams.video[0]
        chosen: Any = None
        for frame in source.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time >= offset_s:
                break
        if chosen is None:
            raise ValueError("the segment holds no decodable frame")
        out = io.BytesIO()
        chosen.to_image().save(out, format="JPEG", quality=90)
        return out.getvalue()
