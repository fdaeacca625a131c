"""One camera stream's session: the platform's only connection to it.

A session owns one thread that opens the stream with PyAV (RTSP over TCP by
default), reads packets, and for each packet: counts it for health, hands it to the
live fan-out, feeds the frame decoder while anyone wants frames, and remuxes it into
the current segment file in the spool. When the connection breaks it reconnects
with exponential backoff and jitter; the recording then continues in a new segment
marked as following a gap. Everything blocking stays in this thread, so one stalled
camera never holds up another or the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import structlog

from rtcc.core.config import DEFAULT_SEGMENT_SECONDS
from rtcc.ingest.fanout import LivePacket, PacketFanout, TrackInfo
from rtcc.ingest.frames import FrameFanout
from rtcc.ingest.health import HealthTracker, StreamHealth
from rtcc.ingest.segment import MAIN, epoch_ms, should_cut
from rtcc.ingest.spool import Spool, SpooledSegment
from rtcc.ingest.stream_clock import StreamClock
from rtcc.ingest.transport import split_transport
from rtcc.ingest.writer import SegmentWriter

log = structlog.get_logger("rtcc.ingest.session")

# A packet whose timestamp strays this far from the wall clock means the camera's clock
# (or its RTP timestamps) jumped: the recording restarts on a new time anchor.
CLOCK_JUMP_S = 3.0


@dataclass(frozen=True, slots=True)
class CameraSource:
    """A camera stream to connect to."""

    camera_id: str
    url: str
    stream: int = MAIN
    retention_days: int = 0
    record: bool = True
    # The camera's sub stream (with credentials), opened on demand for live viewers.
    sub_url: str = ""
    # RECORDING_MODE_EVENT_ONLY: segments are kept only around analytics events.
    event_only: bool = False
    # RTSP lower transport, "tcp" or "udp"; empty: the settings' default. A
    # `?transport=` hint in the URL wins (see transport.py).
    transport: str = ""


@dataclass(frozen=True, slots=True)
class SessionSettings:
    segment_s: float = DEFAULT_SEGMENT_SECONDS  # the setting ingest.segment_seconds
    transport: str = "tcp"
    open_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    # Recording engine of main streams: "pyav" (this module) or "ffmpeg" (a native child
    # per camera stream, ffmpeg_engine.py). Sub streams (never recorded) use PyAV.
    engine: str = "pyav"


def redact(text: str) -> str:
    """Remove credentials from URLs in a message."""
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random."""
    ceiling = min(maximum, initial * (2 ** min(attempt, 30)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class CameraSession:
    """Connects to one camera stream, records it into the spool, fans it out."""

    def __init__(
        self,
        source: CameraSource,
        spool: Spool,
        loop: asyncio.AbstractEventLoop,
        *,
        settings: SessionSettings | None = None,
        on_segment: Callable[[SpooledSegment], None] | None = None,
    ) -> None:
        self.source, self.spool = source, spool
        self.settings = settings or SessionSettings()
        self.on_segment = on_segment
        self.packets = PacketFanout(loop)
        self.frames = FrameFanout(loop)
        self._loop = loop
        # Set (on the loop) when the session thread has ended.
        self._finished = asyncio.Event()
        self._health = HealthTracker(_now())
        self._health_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: SegmentWriter | None = None
        self._last_end: dt.datetime | None = None
        self._gap_before = True
        self._tb = 1 / 90000
        self._segment_media_s = 0.0  # stream time of the segment in progress's start
        self._rng = random.Random()
        self.transport = ""  # of the current (or last) connection
        self.log = log.bind(camera_id=source.camera_id, stream=source.stream)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._thread_main, name=f"camera-{self.source.camera_id}-{self.source.stream}"
        )
        self._thread.daemon = True
        self._thread.start()

    async def stop(self) -> None:
        """Close the current segment and the connection; waits for the thread.

        The wait is an event the thread sets as it ends, not a join in a worker thread:
        the default executor has a handful of workers, so a replica stopping 30 sessions
        joined them a few at a time, each after its own stop grace, and could outlast
        the drain (a replica with the ffmpeg engine took over 60 s).
        """
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            await self._finished.wait()

    def _thread_main(self) -> None:
        try:
            self._run()
        finally:
            try:
                self._loop.call_soon_threadsafe(self._finished.set)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting

    def health(self) -> StreamHealth:
        with self._health_lock:
            snapshot = self._health.snapshot(_now(), time.monotonic())
        if not self.source.record:
            snapshot = dataclasses.replace(snapshot, recording=False)
        return snapshot

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                if self._connect_and_pump():
                    attempt = 0
                error = "the camera ended the stream"
            except Exception as exc:  # any failure: report, back off, reconnect
                error = redact(f"{type(exc).__name__}: {exc}")
            self._close_segment()
            if self._stop.is_set():
                break
            with self._health_lock:
                self._health.failed(_now(), error)
            delay = backoff_delay(
                attempt, self.settings.backoff_initial_s, self.settings.backoff_max_s, self._rng
            )
            self.log.warning("camera_disconnected", error=error, retry_in_s=round(delay, 2))
            attempt += 1
            self._stop.wait(delay)

    def _connect_and_pump(self) -> bool:
        """Read the stream until it ends or fails; True when media flowed."""
        url, transport = split_transport(
            self.source.url, self.source.transport or self.settings.transport
        )
        options = {"rtsp_transport": transport, "analyzeduration": "0", "probesize": "32"}
        if transport == "udp":
            # Reorder RTP packets that arrive out of order, and read with a larger
            # socket buffer so a 1080p keyframe burst is not dropped by the kernel.
            options |= {"reorder_queue_size": "64", "buffer_size": str(4 << 20)}
        timeouts = (self.settings.open_timeout_s, self.settings.read_timeout_s)
        self.transport = transport
        container: Any = av.open(url, options=options, timeout=timeouts)
        try:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or 0
            with self._health_lock:
                self._health.connected(_now(), time.monotonic(), float(rate))
            self.packets.publish_tracks(_track_info(stream, discontinuity=True))
            self.frames.reset()
            self._gap_before = True
            self.log.info("camera_connected", codec=stream.codec_context.name, transport=transport)
            return self._pump(container, stream)
        finally:
            container.close()

    def _pump(self, container: Any, stream: Any) -> bool:
        clock = StreamClock(CLOCK_JUMP_S)
        flowed = False
        # A float, once: Fraction arithmetic per packet costs more than the remux itself.
        self._tb = tb = float(stream.time_base or 0) or 1 / 90000
        for packet in container.demux(stream):
            if self._stop.is_set():
                break
            if packet.pts is None or packet.size == 0:
                continue  # RTSP's first packet may lack a pts; flush packets are empty
            if packet.dts is None:
                packet.dts = packet.pts
            stamp, jumped = clock.stamp(packet.pts * tb, time.time())
            if jumped:
                self.log.warning("camera_clock_jump")
                self._close_segment()
                self._gap_before = True
            wall = dt.datetime.fromtimestamp(stamp, dt.UTC)
            self._on_packet(packet, stream, wall)
            flowed = True
        return flowed

    def _on_packet(self, packet: Any, stream: Any, wall: dt.datetime) -> None:
        with self._health_lock:
            self._health.packet(wall, time.monotonic(), packet.size)
        self.packets.publish_packet(
            LivePacket(
                packet.pts,
                packet.dts,
                packet.duration or 0,
                packet.is_keyframe,
                wall,
                bytes(packet),
            )
        )
        self.frames.feed(packet, stream, wall)
        if self.source.record:
            self._record(packet, stream, wall)

    def _record(self, packet: Any, stream: Any, wall: dt.datetime) -> None:
        writer = self._writer
        # Segments are cut by the stream's own time: wall stamps may run a little slower
        # than the media while the clock settles (stream_clock), and a keyframe exactly
        # one segment after the last would then miss the cut by microseconds.
        media_s = packet.pts * self._tb
        if writer is not None and should_cut(
            packet.is_keyframe, media_s - self._segment_media_s, self.settings.segment_s
        ):
            self._close_segment(end=wall)
            writer = None
        if writer is None:
            if not packet.is_keyframe:
                return
            writer = self._open_segment(stream, wall)
            if writer is None:
                return
            self._segment_media_s = media_s
        duration = (packet.duration or 0) * self._tb or 1 / 15
        try:
            writer.write(packet)
        except (OSError, av.FFmpegError) as exc:
            self._fail_recording(f"writing a segment failed: {exc}")
            return
        self._last_end = wall + dt.timedelta(seconds=duration)

    def _open_segment(self, stream: Any, wall: dt.datetime) -> SegmentWriter | None:
        if not self.spool.has_room():
            self._fail_recording("the local spool is full; segments are being dropped")
            return None
        part = self.spool.part_path(self.source.camera_id, self.source.stream, epoch_ms(wall))
        try:
            self._writer = SegmentWriter(
                part,
                stream,
                camera_id=self.source.camera_id,
                stream=self.source.stream,
                start_time=wall,
                discontinuity=self._gap_before,
                event_only=self.source.event_only,
            )
        except (OSError, av.FFmpegError) as exc:
            self._fail_recording(f"opening a segment failed: {exc}")
            return None
        self._gap_before = False
        with self._health_lock:
            self._health.recording(wall, True)
        return self._writer

    def _fail_recording(self, error: str) -> None:
        self.log.error("recording_failed", error=error)
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        self._gap_before = True
        with self._health_lock:
            self._health.recording(_now(), False, error)

    def _close_segment(self, end: dt.datetime | None = None) -> None:
        writer, self._writer = self._writer, None
        end = end or self._last_end
        if writer is None or end is None:
            return
        if writer.empty:
            writer.abort()
            return
        try:
            closed = writer.close(end)
            if self.source.event_only:
                closed = dataclasses.replace(closed, event_only=True)
            spooled = self.spool.commit(writer.path, closed)
        except (OSError, av.FFmpegError) as exc:
            self._fail_recording(f"closing a segment failed: {exc}")
            return
        if self.on_segment is not None:
            self.on_segment(spooled)


def _track_info(stream: Any, *, discontinuity: bool) -> TrackInfo:
    ctx = stream.codec_context
    tb = stream.time_base
    return TrackInfo(
        codec=ctx.name or "",
        profile=ctx.profile or "",
        extradata=bytes(ctx.extradata or b""),
        time_base=(tb.numerator, tb.denominator) if tb else (1, 90000),
        width=int(ctx.width or 0),
        height=int(ctx.height or 0),
        bit_rate=int(ctx.bit_rate or 0),
        discontinuity=discontinuity,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
