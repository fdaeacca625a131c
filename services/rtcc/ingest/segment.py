"""Recorded segments: what one is, and the pure rules that cut and key them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

MAIN, SUB = 1, 2  # rtcc.common.v1.CameraStream values
CONTENT_TYPE = "video/mp4"
BUCKET = "recordings"


@dataclass(frozen=True, slots=True)
class ClosedSegment:
    """A finished segment file, described well enough to store and index it."""

    id: str
    camera_id: str
    stream: int
    start_time: dt.datetime
    end_time: dt.datetime
    size_bytes: int
    sha256: str
    video_codec: str
    width: int
    height: int
    frame_rate: float
    frames: int
    # True when the recording broke (reconnect, clock jump) just before this segment.
    discontinuity: bool
    # Recorded under an event-only policy: stored only if an analytics event claims it.
    event_only: bool = False

    @property
    def object_key(self) -> str:
        return object_key(self.camera_id, self.stream, self.start_time)

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["start_time"] = self.start_time.isoformat()
        data["end_time"] = self.end_time.isoformat()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ClosedSegment:
        data = json.loads(text)
        data["start_time"] = dt.datetime.fromisoformat(data["start_time"])
        data["end_time"] = dt.datetime.fromisoformat(data["end_time"])
        return cls(**data)


def epoch_ms(when: dt.datetime) -> int:
    return round(when.timestamp() * 1000)


def object_key(camera_id: str, stream: int, start: dt.datetime) -> str:
    """`camera_id/YYYY/MM/DD/HH/<start-epoch-ms>.mp4` (sub streams under `camera_id/sub/`)."""
    start = start.astimezone(dt.UTC)
    prefix = camera_id if stream != SUB else f"{camera_id}/sub"
    return f"{prefix}/{start:%Y/%m/%d/%H}/{epoch_ms(start)}.mp4"


def segment_id(camera_id: str, stream: int, start: dt.datetime) -> str:
    """A stable id: the same segment keeps its id across retries and restarts."""
    digest = hashlib.sha256(f"{camera_id}|{stream}|{epoch_ms(start)}".encode()).hexdigest()
    return f"seg_{digest[:26]}"


# Timestamps converted from a 90 kHz RTP clock land a few microseconds either side of
# the frame's time: a keyframe one GOP after the last (2.0 s) arrives at 1.99999 s.
CUT_TOLERANCE_S = 0.01


def should_cut(keyframe: bool, elapsed_s: float, target_s: float) -> bool:
    """Cut at the first keyframe at or past the target duration (within rounding: a
    keyframe exactly one target after the segment's start cuts, it is not skipped
    for the next, which made 4 s segments 6 s long with a 2 s GOP)."""
    return keyframe and elapsed_s >= target_s - CUT_TOLERANCE_S


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of time with no recording."""

    start_time: dt.datetime
    end_time: dt.datetime


def find_gaps(
    spans: list[tuple[dt.datetime, dt.datetime]],
    start: dt.datetime,
    end: dt.datetime,
    tolerance: dt.timedelta = dt.timedelta(milliseconds=250),
) -> list[Gap]:
    """The parts of [start, end) that no span covers, ignoring slivers under `tolerance`."""
    gaps: list[Gap] = []
    cursor = start
    for span_start, span_end in sorted(spans):
        if span_start - cursor > tolerance:
            gaps.append(Gap(cursor, min(span_start, end)))
        cursor = max(cursor, span_end)
        if cursor >= end:
            break
    if end - cursor > tolerance:
        gaps.append(Gap(cursor, end))
    return gaps
