"""Join recorded segments into one fragmented MP4 for a time range (remux, no transcode).

Blocking (PyAV): run in a thread. The joining itself is rtcc.media.join's (shared with
evidence's clip export); gaps between segments are skipped and the caller reports them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from rtcc.ingest.writer import FMP4_OPTIONS
from rtcc.media.join import join


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
    joined = join(parts, start, end, out_path, mux_options=FMP4_OPTIONS)
    return JoinedRange(joined.start_time or start, joined.end_time, joined.packets)
