"""Join recorded segments into one MP4 for a time range (remux, never transcode).

Shared by ingest (``ReadRange``: fragmented MP4 streamed to a caller) and evidence
(clip export: a plain MP4 for court and desktop players). Blocking (PyAV): run it in a
thread. The output starts at the keyframe at or before the range's start, so it
decodes from its first frame, and ends before the range's end. Across a gap between
segments media time runs on (the gap is skipped, not filled); callers report gaps.
Segments are opened without probing: their codec parameters are in the init segment,
and probing decoded frames for nothing (most of the time per segment).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av

OPEN_OPTIONS = {"probesize": "32", "analyzeduration": "0"}


class SegmentFile(Protocol):
    """A segment's file and the wall time its first frame was captured."""

    @property
    def start_time(self) -> dt.datetime: ...

    @property
    def path(self) -> Path: ...


@dataclass(frozen=True, slots=True)
class Joined:
    """What was written: wall times of the first and last frame (first is None when no
    frame fell in the range) and the number of packets."""

    start_time: dt.datetime | None
    end_time: dt.datetime
    packets: int


def join(
    parts: Iterable[SegmentFile],
    start: dt.datetime,
    end: dt.datetime,
    out_path: Path,
    *,
    mux_options: Mapping[str, str],
    progress: Callable[[int], None] | None = None,
    discard: bool = False,
) -> Joined:
    """Write the frames of `parts` within [start, end) to `out_path` as MP4.

    `parts` may be a lazy iterator; with `discard` each part's file is removed once
    read; `progress(n)` is called after the n-th part."""
    output: Any = av.open(str(out_path), "w", format="mp4", options=dict(mux_options))
    out_stream: Any = None
    offset = 0.0  # seconds of media already written
    first_wall: dt.datetime | None = None
    last_wall = start
    count = 0
    try:
        for n, part in enumerate(parts, start=1):
            with av.open(str(part.path), format="mp4", options=OPEN_OPTIONS) as source:
                stream = source.streams.video[0]
                if out_stream is None:
                    out_stream = output.add_stream_from_template(stream)
                chosen = _packets_in_range(source, stream, part.start_time, start, end)
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
            if count:  # with nothing muxed, a failed close is expected
                raise
    return Joined(first_wall, last_wall, count)


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
