"""Frames from ingest's live fan-out (``IngestService.StreamFrames``), as BGR arrays.

Analytics never opens a camera itself: it asks ingest for decoded frames at its own
rate and size. A message whose data does not match its declared size and format is a
corrupt frame: it is counted and skipped, never passed to a detector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import cv2
import numpy as np

from rtcc.analytics.detection import Frame

# rtcc.ingest.v1.PixelFormat values this module understands.
RGB24, BGR24, JPEG = 1, 2, 6


@dataclass
class FrameSourceStats:
    frames: int = 0
    corrupt: int = 0
    # Frames ingest dropped for this subscriber (reported by ingest).
    dropped_upstream: int = 0


def decode(message: Any) -> Frame | None:
    """The BGR array of an ingest ``Frame`` message, or None when it is corrupt."""
    width, height, fmt, data = message.width, message.height, message.pixel_format, message.data
    if fmt in (RGB24, BGR24):
        if width <= 0 or height <= 0 or len(data) != width * height * 3:
            return None
        array = np.frombuffer(data, np.uint8).reshape(height, width, 3)
        if fmt == RGB24:
            return cast(Frame, cv2.cvtColor(array, cv2.COLOR_RGB2BGR))
        return array.copy()
    if fmt == JPEG:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return None if image is None else cast(Frame, image)
    return None


async def ingest_frames(
    stub: Any,
    camera_id: str,
    *,
    fps: float = 5.0,
    max_width: int = 640,
    stats: FrameSourceStats | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> AsyncIterator[tuple[datetime, Frame]]:
    """Subscribe to a camera's decoded frames; yields (capture time, BGR frame)."""
    from rtcc.ingest.v1 import ingest_pb2

    stats = stats or FrameSourceStats()
    request = ingest_pb2.StreamFramesRequest(
        camera_id=camera_id,
        fps=fps,
        max_width=max_width,
        pixel_format=ingest_pb2.PIXEL_FORMAT_BGR24,
    )
    async for response in stub.StreamFrames(request, metadata=metadata):
        stats.dropped_upstream += response.dropped_frames
        frame = decode(response.frame)
        if frame is None:
            stats.corrupt += 1
            continue
        stats.frames += 1
        yield response.frame.capture_time.ToDatetime(tzinfo=UTC), frame
