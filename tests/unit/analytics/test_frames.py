"""Frames from ingest's StreamFrames: decoded to BGR, corrupt ones counted and skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
from google.protobuf import timestamp_pb2

from rtcc.analytics import frames as source
from rtcc.ingest.v1 import ingest_pb2


def _message(array: np.ndarray, fmt: int, data: bytes | None = None) -> ingest_pb2.Frame:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime(2026, 1, 1, tzinfo=UTC))
    return ingest_pb2.Frame(
        width=array.shape[1],
        height=array.shape[0],
        pixel_format=fmt,  # type: ignore[arg-type]
        capture_time=stamp,
        data=array.tobytes() if data is None else data,
    )


def test_rgb_bgr_and_jpeg_frames_decode_to_bgr() -> None:
    bgr = np.zeros((20, 30, 3), np.uint8)
    bgr[..., 2] = 255  # red
    rgb = bgr[..., ::-1].copy()
    assert np.array_equal(source.decode(_message(rgb, ingest_pb2.PIXEL_FORMAT_RGB24)), bgr)
    assert np.array_equal(source.decode(_message(bgr, ingest_pb2.PIXEL_FORMAT_BGR24)), bgr)
    jpeg = cv2.imencode(".jpg", bgr)[1].tobytes()
    decoded = source.decode(_message(bgr, ingest_pb2.PIXEL_FORMAT_JPEG, jpeg))
    assert decoded is not None and decoded.shape == bgr.shape


def test_frames_whose_data_does_not_match_their_size_are_corrupt() -> None:
    bgr = np.zeros((20, 30, 3), np.uint8)
    assert source.decode(_message(bgr, ingest_pb2.PIXEL_FORMAT_BGR24, b"short")) is None
    assert source.decode(_message(bgr, ingest_pb2.PIXEL_FORMAT_JPEG, b"not a jpeg")) is None
    assert source.decode(_message(bgr, ingest_pb2.PIXEL_FORMAT_NV12)) is None


class _Stub:
    def __init__(self, messages: list[ingest_pb2.StreamFramesResponse]) -> None:
        self.messages = messages
        self.request: Any = None

    async def _stream(self) -> AsyncIterator[ingest_pb2.StreamFramesResponse]:
        for message in self.messages:
            yield message

    def StreamFrames(
        self, request: Any, metadata: Any = ()
    ) -> AsyncIterator[ingest_pb2.StreamFramesResponse]:
        self.request = request
        return self._stream()


async def test_ingest_frames_asks_for_bgr_at_its_rate_and_skips_corrupt_frames() -> None:
    good = _message(np.zeros((20, 30, 3), np.uint8), ingest_pb2.PIXEL_FORMAT_BGR24)
    bad = _message(np.zeros((20, 30, 3), np.uint8), ingest_pb2.PIXEL_FORMAT_BGR24, b"x")
    stub = _Stub(
        [
            ingest_pb2.StreamFramesResponse(frame=good),
            ingest_pb2.StreamFramesResponse(frame=bad, dropped_frames=2),
            ingest_pb2.StreamFramesResponse(frame=good),
        ]
    )
    stats = source.FrameSourceStats()
    got = [item async for item in source.ingest_frames(stub, "cam_1", fps=5, stats=stats)]
    assert len(got) == 2 and got[0][0].tzinfo is not None
    assert (stats.frames, stats.corrupt, stats.dropped_upstream) == (2, 1, 2)
    assert stub.request.pixel_format == ingest_pb2.PIXEL_FORMAT_BGR24
    assert stub.request.fps == 5
