"""Remux a camera's packets into one fragmented-MP4 segment file (no transcoding).

Blocking (PyAV): used from a camera session's thread only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import av

from rtcc.ingest.segment import ClosedSegment, segment_id

# Fragment at every keyframe and at least every half second, moov up front: the file
# is playable while it grows and a killed writer still leaves every finished fragment
# readable. flush_packets hands each finished fragment to the kernel at once (not when
# FFmpeg's 32 KiB buffer fills), so a `kill -9` loses at most the half second in
# progress (recovery.py keeps the rest).
FMP4_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "500000",  # microseconds
    "flush_packets": "1",
}


def meta_path(part: Path) -> Path:
    """Beside a segment being written: what recovery needs to describe it after a crash."""
    return part.with_name(part.name + "-meta")


class SegmentWriter:
    """One open segment: starts at a keyframe, timestamps rebased to zero."""

    def __init__(
        self,
        path: Path,
        template: Any,
        *,
        camera_id: str,
        stream: int,
        start_time: dt.datetime,
        discontinuity: bool,
        event_only: bool = False,
    ) -> None:
        self.path, self.camera_id, self.stream = path, camera_id, stream
        self.start_time, self.discontinuity = start_time, discontinuity
        self.codec = template.codec_context.name or "h264"
        self.width = int(template.codec_context.width or 0)
        self.height = int(template.codec_context.height or 0)
        self.frames = 0
        self.dropped = 0
        self._first_dts: int | None = None
        self._last_dts: int | None = None
        self._pending: Any = None
        meta = {"camera_id": camera_id, "stream": stream, "start_time": start_time.isoformat()}
        meta |= {"discontinuity": discontinuity, "event_only": event_only}
        meta_path(path).write_text(json.dumps(meta))  # not fsynced: lost with the data
        self._output: Any = av.open(str(path), "w", format="mp4", options=FMP4_OPTIONS)
        self._out_stream = self._output.add_stream_from_template(template)

    def write(self, packet: Any) -> None:
        """Add one packet; pieces of one access unit (same dts) are joined first.

        Some cameras (and depayloaders) split a picture across packets with equal
        timestamps; MP4 needs one sample per picture with increasing dts.
        """
        pending = self._pending
        if pending is not None and packet.dts == pending.dts:
            joined = av.Packet(bytes(pending) + bytes(packet))
            joined.pts, joined.dts, joined.time_base = pending.pts, pending.dts, pending.time_base
            joined.duration = pending.duration
            joined.is_keyframe = pending.is_keyframe or packet.is_keyframe
            self._pending = joined
            return
        if pending is not None and packet.dts < pending.dts:
            self.dropped += 1  # out of order or corrupt timestamps: cannot be muxed
            return
        self._flush()
        self._pending = packet

    def _flush(self) -> None:
        packet, self._pending = self._pending, None
        if packet is None:
            return
        if self._first_dts is None:
            self._first_dts = packet.dts
        packet.dts -= self._first_dts
        packet.pts -= self._first_dts
        packet.stream = self._out_stream
        self._output.mux(packet)
        self.frames += 1

    @property
    def empty(self) -> bool:
        return self.frames == 0 and self._pending is None

    def abort(self) -> None:
        try:
            self._output.close()
        except (OSError, av.FFmpegError):
            pass  # e.g. ENOSPC writing the last fragment: the file goes anyway
        finally:
            self.path.unlink(missing_ok=True)
            meta_path(self.path).unlink(missing_ok=True)

    def close(self, end_time: dt.datetime) -> ClosedSegment:
        """Finish the file, make it durable, and describe it."""
        self._flush()
        self._output.close()
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
            os.fsync(handle.fileno())
        meta_path(self.path).unlink(missing_ok=True)
        seconds = max((end_time - self.start_time).total_seconds(), 1e-6)
        return ClosedSegment(
            id=segment_id(self.camera_id, self.stream, self.start_time),
            camera_id=self.camera_id,
            stream=self.stream,
            start_time=self.start_time,
            end_time=end_time,
            size_bytes=self.path.stat().st_size,
            sha256=digest.hexdigest(),
            video_codec=self.codec,
            width=self.width,
            height=self.height,
            frame_rate=round(self.frames / seconds, 3),
            frames=self.frames,
            discontinuity=self.discontinuity,
        )
