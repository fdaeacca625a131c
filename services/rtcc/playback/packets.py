"""Encoded video as playback sees it: access units from ingest, live or recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One H.264 access unit in Annex B form (SPS/PPS in-band before keyframes)."""

    data: bytes
    pts: int
    time_base: Fraction
    keyframe: bool
    # Wall-clock capture time of the frame, when known.
    capture_time: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """What a source carries: codec name as in FFmpeg ("h264", "hevc") and profile."""

    codec: str
    profile: str = ""
    width: int = 0
    height: int = 0


@dataclass(frozen=True, slots=True)
class Gap:
    """A part of a recording that does not exist and was skipped."""

    start: dt.datetime
    end: dt.datetime


@dataclass(slots=True)
class SourceEvents:
    """What a source learnt besides packets: its track, recording gaps, its end."""

    track: TrackInfo | None = None
    gaps: list[Gap] = field(default_factory=list)
    ended: bool = False


class PacketSource(Protocol):
    """An async iterator of encoded video packets, starting at a keyframe."""

    events: SourceEvents

    def packets(self) -> AsyncIterator[EncodedPacket]:
        """Yield packets until the source ends or fails (Unavailable)."""
        ...
