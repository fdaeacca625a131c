"""Remux recorded segments into one MP4 clip (no transcode), and find the gaps.

Blocking (PyAV): run in a thread. The clip starts at the keyframe at or before the
range's start so it decodes from its first frame and ends before the range's end.
Across a gap media time runs on (the gap is skipped, not filled) and the gaps are
reported beside the clip. The output is a plain (not fragmented) MP4, the form court
and desktop players expect. Its index (moov) is written at the end: moving it to the
front (``+faststart``) rewrites the whole file and cost 60 % more time for nothing a
player needs (browsers fetch the index with a range request, which the share links
serve). The joining itself is rtcc.media.join's, shared with ingest's ReadRange.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from rtcc.media.join import join

CLIP_OPTIONS: dict[str, str] = {}
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
    joined = join(
        parts, start, end, out_path, mux_options=CLIP_OPTIONS, progress=progress, discard=discard
    )
    if joined.start_time is None:
        raise ValueError("no recorded frame falls in the range")
    return Clip(joined.start_time, joined.end_time, joined.packets)


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
