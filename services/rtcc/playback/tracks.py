"""aiortc video tracks fed with encoded packets.

:class:`PassthroughTrack` hands aiortc ``av.Packet`` objects, which its H.264
encoder packetizes without re-encoding. :class:`TranscodeTrack` decodes and hands
aiortc frames, which it encodes (VP8) for peers that cannot take the camera's codec.
Both restamp the media with the send clock, in 90 kHz: the receiver then renders
frames as they arrive, whatever the speed, pauses and seeks of a recording, and a
burst of cached GOP frames is shown at once instead of being delayed.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from typing import Protocol, cast

import av
import cv2
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from rtcc.playback.packets import EncodedPacket

VIDEO_TIME_BASE = Fraction(1, 90000)


class Feed(Protocol):
    """Where a track takes its packets from; ``None`` ends the track."""

    async def next(self) -> EncodedPacket | None: ...


class _Clock:
    """Monotonic, strictly increasing 90 kHz timestamps from the first frame on."""

    def __init__(self) -> None:
        self._start: float | None = None
        self._last = -1

    def pts(self) -> int:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        value = max(int((now - self._start) * 90000), self._last + 1)
        self._last = value
        return value


class PassthroughTrack(MediaStreamTrack):
    """H.264 access units as received from the camera, restamped, not re-encoded."""

    kind = "video"

    def __init__(self, feed: Feed) -> None:
        super().__init__()
        self._feed = feed
        self._clock = _Clock()
        self.packets_sent = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._feed.next()
        if packet is None:
            self.stop()
            raise MediaStreamError
        out = av.Packet(packet.data)
        out.pts = self._clock.pts()
        out.time_base = VIDEO_TIME_BASE
        self.packets_sent += 1
        return out


class TranscodeTrack(MediaStreamTrack):
    """Decoded frames for aiortc to encode (VP8 for peers without H.264)."""

    kind = "video"

    def __init__(
        self, feed: Feed, codec: str = "h264", masks: list[list[tuple[float, float]]] | None = None
    ) -> None:
        super().__init__()
        self._feed = feed
        self._masks = masks or []
        self._decoder = cast(av.VideoCodecContext, av.CodecContext.create(codec, "r"))
        self._pending: list[av.VideoFrame] = []
        self._clock = _Clock()

    async def recv(self) -> av.VideoFrame:  # type: ignore[override]
        while not self._pending:
            if self.readyState != "live":
                raise MediaStreamError
            packet = await self._feed.next()
            if packet is None:
                self.stop()
                raise MediaStreamError
            self._pending = await asyncio.to_thread(self._decode, packet.data)
        frame = self._pending.pop(0)
        frame.pts = self._clock.pts()
        frame.time_base = VIDEO_TIME_BASE
        return frame

    def _decode(self, data: bytes) -> list[av.VideoFrame]:
        try:
            decoded = self._decoder.decode(av.Packet(data))
        except av.FFmpegError:
            return []  # undecodable until the next keyframe
        frames = [f for f in decoded if isinstance(f, av.VideoFrame)]
        return [apply_masks(f, self._masks) for f in frames] if self._masks else frames


def apply_masks(frame: av.VideoFrame, masks: list[list[tuple[float, float]]]) -> av.VideoFrame:
    """Black out the polygons (normalised coordinates) of a decoded frame."""
    image = frame.to_ndarray(format="yuv420p")  # rows: the Y plane, then U and V
    height, width = frame.height, frame.width
    luma = image[:height]
    chroma = image[height:].reshape(2, height // 2, width // 2)  # views of U and V
    for mask in masks:
        points = np.array([[round(x * width), round(y * height)] for x, y in mask], np.int32)
        cv2.fillPoly(luma, [points], 16)
        for plane in chroma:
            cv2.fillPoly(plane, [points // 2], 128)
    return av.VideoFrame.from_ndarray(image, format="yuv420p")
