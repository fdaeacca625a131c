"""The ffmpeg recording engine: a native child per camera stream does the per-packet work.

Selected with ``RTCC_INGEST__ENGINE=ffmpeg`` (the default engine is PyAV, session.py).
Each connection is one ``ffmpeg -rtsp_transport tcp -i URL -map 0:v:0 -c copy -f
segment`` child that writes keyframe-aligned fragmented-MP4 segments straight into the
spool (fragments of at most `FRAGMENT_S`, each flushed when finished, so a killed
process leaves whole fragments for recovery.py) and prints one CSV line per closed
segment on its stdout. Python touches each *segment*: it hashes the file (one pass),
commits it to the spool and wakes the uploader, exactly as the PyAV engine does.

Python follows the segment being written only at fragment granularity: once a
second it reads the new ``moof`` boxes (not the media) and counts their samples for
health, and while live
viewers or analytics subscribe it reads the new fragments' samples every
`WATCH_POLL_S` and publishes them (fan-out, GOP cache) and hands them to a decoder
thread; frames are decoded there, never in the thread that records.

Wall-clock times: like the PyAV engine, one anchor per connection maps stream time to
the local clock, taken when the first fragment appears (polled every 10 ms until
then). Each closed segment's CSV line arrives when its successor's first packet does,
so its drift from the anchor is checked there; past `CLOCK_JUMP_S` the recording
restarts on a new anchor, the next segment marked as following a gap.

The child dies with the session thread (``setpriv --pdeathsig``); it is stopped with
SIGTERM, on which ffmpeg closes its segment and prints its line, then SIGKILL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av

from rtcc.ingest.fanout import LivePacket, TrackInfo
from rtcc.ingest.fmp4 import FragmentReader, Track, to_annexb
from rtcc.ingest.segment import CUT_TOLERANCE_S, ClosedSegment, segment_id
from rtcc.ingest.session import CLOCK_JUMP_S, CameraSession, redact
from rtcc.ingest.transport import split_transport
from rtcc.ingest.writer import meta_path

FRAGMENT_S = 0.25  # longest fragment: live latency while watched, loss on kill -9
# How often the segment in progress is looked at when nobody watches (health, the
# stall check). A new viewer or a stop does not wait for it: they wake the thread.
IDLE_POLL_S = 2.0
WATCH_POLL_S = 0.02  # ... and while somebody watches (live latency)
ANCHOR_POLL_S = 0.01  # from the first segment file's creation to its first fragment
CONNECT_POLL_S = 0.1  # until ffmpeg creates that file (it has connected)
STOP_GRACE_S = 5.0
TIMESCALE = 90000  # the RTP clock: live packets keep the PyAV engine's time base


def ffmpeg_binary() -> str:
    return shutil.which("ffmpeg") or "ffmpeg"


def ffmpeg_command(
    url: str, transport: str, pattern: Path, segment_s: float, timeout_s: float
) -> list[str]:
    """The child's command line (the RTSP URL, with credentials, is an argument)."""
    movflags = "+frag_keyframe+empty_moov+default_base_moof"
    options = f"movflags={movflags}:frag_duration={int(FRAGMENT_S * 1e6)}"
    options += f":video_track_timescale={TIMESCALE}"
    cmd = [
        ffmpeg_binary(), "-nostdin", "-nostats", "-hide_banner", "-loglevel", "error",
        "-rtsp_transport", transport, "-timeout", str(int(timeout_s * 1e6)),
        "-analyzeduration", "0", "-probesize", "32",
    ]  # fmt: skip
    if transport == "udp":
        cmd += ["-reorder_queue_size", "64", "-buffer_size", str(4 << 20)]
    cmd += [
        "-i", url, "-map", "0:v:0", "-c", "copy",
        "-f", "segment", "-segment_time", str(segment_s), "-reset_timestamps", "1",
        # A keyframe a few microseconds short of the cut time (90 kHz RTP rounding)
        # still cuts, as in the PyAV engine (segment.CUT_TOLERANCE_S).
        "-segment_time_delta", str(CUT_TOLERANCE_S),
        "-segment_format", "mp4", "-segment_format_options", options,
        "-segment_list", "pipe:1", "-segment_list_type", "csv", str(pattern),
    ]  # fmt: skip
    setpriv = shutil.which("setpriv")
    # The child must not outlive us: SIGTERM when the thread that started it ends.
    return [setpriv, "--pdeathsig", "TERM", "--", *cmd] if setpriv else cmd


@dataclasses.dataclass(slots=True)
class _Open:
    """The segment the child is writing."""

    index: int
    path: Path
    # Stream time of its first packet: the previous segment's end (CSV); the first
    # segment's is known when it closes.
    start_s: float | None
    reader: FragmentReader
    discontinuity: bool
    meta_written: bool = False
    # Wall clock of its start: the previous segment's end, so that segments tile; the
    # first segment's is estimated from when its fragments appear.
    start_wall: float | None = None


class FfmpegSession(CameraSession):
    """A camera session whose packets are read and remuxed by an ffmpeg child."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._proc: subprocess.Popen[bytes] | None = None
        self._anchor: float | None = None  # wall clock at stream time 0
        self._first_wall: float | None = None  # ... at the connection's first packet
        self._origin_s = 0.0  # stream time of the connection's first packet
        self._open: _Open | None = None
        self._decode: _DecodeThread | None = None
        self._track: Track | None = None
        # Written (on the event loop) to wake the session thread out of its select:
        # someone started watching, or the session stops.
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.packets.on_subscribe = self.frames.on_subscribe = self._wake

    @property
    def child_pid(self) -> int | None:
        """The ffmpeg child of the current connection (the benchmark counts its CPU)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    async def stop(self) -> None:
        # Woken, the session thread sends the child SIGTERM, on which ffmpeg closes its
        # segment and prints its line.
        self._stop.set()
        self._wake()
        await super().stop()
        if self._decode is not None:
            self._decode.close()
        if self._wake_write >= 0:  # the thread has ended: nothing selects on it now
            os.close(self._wake_write)
            os.close(self._wake_read)
            self._wake_write = -1

    def _wake(self) -> None:
        """On the event loop: make the session thread look now."""
        if self._wake_write < 0:
            return
        try:
            os.write(self._wake_write, b"w")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already

    # The connection: one child, followed until it exits.

    def _connect_and_pump(self) -> bool:
        url, transport = split_transport(
            self.source.url, self.source.transport or self.settings.transport
        )
        self.transport = transport
        folder = self.spool.stream_dir(self.source.camera_id, self.source.stream)
        token = uuid.uuid4().hex[:8]
        pattern = folder / f"ff{token}-%06d.mp4.part"
        cmd = ffmpeg_command(
            url, transport, pattern, self.settings.segment_s, self.settings.read_timeout_s
        )
        self._anchor, self._first_wall, self._origin_s, self._track = None, None, 0.0, None
        first = folder / f"ff{token}-000000.mp4.part"
        self._open = _Open(0, first, None, FragmentReader(str(first)), True)
        self._gap_before = True
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._proc = proc
        try:
            return self._follow(proc, folder)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            self._proc = None
            self._drop_open()

    def _follow(self, proc: subprocess.Popen[bytes], folder: Path) -> bool:
        assert proc.stdout is not None and proc.stderr is not None
        out, err = proc.stdout.fileno(), proc.stderr.fileno()
        os.set_blocking(out, False)
        os.set_blocking(err, False)
        lines, errors = b"", b""
        flowed = False
        stopping_since: float | None = None
        last_growth = time.monotonic()
        open_fds = {out, err}
        while open_fds:
            if self._stop.is_set() and stopping_since is None:
                stopping_since = time.monotonic()
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            if stopping_since is not None and time.monotonic() - stopping_since > STOP_GRACE_S:
                proc.kill()
            watched = self.packets.subscriber_count + self.frames.subscriber_count
            if self._first_wall is not None:
                wait = WATCH_POLL_S if watched else IDLE_POLL_S
            else:
                connected = self._open is not None and self._open.reader.opened
                wait = ANCHOR_POLL_S if connected else CONNECT_POLL_S
            ready, _, _ = select.select([*open_fds, self._wake_read], [], [], wait)
            for fd in ready:
                if fd == self._wake_read:
                    os.read(fd, 1 << 12)
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.discard(fd)
                elif fd == out:
                    lines += chunk
                else:
                    errors = (errors + chunk)[-4096:]
            if self._tail(bool(watched)):
                flowed, last_growth = True, time.monotonic()
            while b"\n" in lines:
                line, lines = lines.split(b"\n", 1)
                self._segment_closed(line.decode(errors="replace"), folder, bool(watched))
            stalled = time.monotonic() - last_growth
            if stopping_since is None and stalled > self.settings.read_timeout_s + 3 * FRAGMENT_S:
                if self._first_wall is not None or stalled > self.settings.open_timeout_s + 10:
                    proc.kill()
                    errors += b"\nno media from the camera for %.0f s" % stalled
        code = proc.wait()
        if not flowed or (code not in (0, 255) and not self._stop.is_set()):
            message = errors.decode(errors="replace").strip().splitlines()
            raise ConnectionError(redact(message[-1] if message else f"ffmpeg exited ({code})"))
        return flowed

    # The segment in progress.

    def _tail(self, watched: bool) -> bool:
        """Read what the child finished since the last look; True if anything."""
        current = self._open
        if current is None:
            return False
        fragments = current.reader.poll(want_data=watched)
        if not fragments:
            return False
        track = current.reader.track
        if track is not None and track != self._track:
            self._track = track
            self._publish_tracks(track)
        now, mono = time.time(), time.monotonic()
        # A fragment is written when the packet after it arrives, so `now` is at least
        # that packet's arrival: the lowest such estimate is the first segment's start
        # (packets read while the connection opened come in a burst).
        estimate = now - fragments[-1][0].end / TIMESCALE
        if self._first_wall is None:
            self._first_wall = estimate
            fps = self._rate(fragments[-1][0])
            with self._health_lock:
                self._health.connected(_utc(now), mono, fps)
            codec = track.codec if track else ""
            self.log.info(
                "camera_connected", codec=codec, transport=self.transport, engine="ffmpeg"
            )
        elif current.start_wall is None:
            self._first_wall = min(self._first_wall, estimate)
        if not current.meta_written:
            self._write_meta(current)
        wall = current.start_wall
        if wall is None:
            wall = self._first_wall
        # Live timestamps run on from the connection's first packet, across segments.
        start_s = current.start_s
        base = start_s - self._origin_s if start_s is not None and current.index else 0.0
        publish = watched and self.packets.subscriber_count > 0
        decode = self.frames.subscriber_count > 0
        last = _utc(wall + fragments[-1][0].end / TIMESCALE)
        with self._health_lock:
            for fragment, _body, _offset in fragments:
                self._health.packets_read(last, mono, fragment.count, fragment.size)
        if not decode and self._decode is not None:
            self._decode.close()  # nobody wants frames any more
            self._decode = None
        if (publish or decode) and track is not None:
            self._fan_out(fragments, track, base, wall, publish, decode)
        return True

    def _fan_out(
        self,
        fragments: list[Any],
        track: Track,
        base: float,
        base_wall: float,
        publish: bool,
        decode: bool,
    ) -> None:
        offset_ticks = round(base * TIMESCALE)
        for fragment, body, body_at in fragments:
            if body is None:
                continue
            for s in fragment.samples:
                data = to_annexb(
                    body[s.offset - body_at : s.offset - body_at + s.size], track.nal_length_size
                )
                wall = _utc(base_wall + s.dts / TIMESCALE)
                live = LivePacket(
                    offset_ticks + s.pts, offset_ticks + s.dts, s.duration, s.keyframe, wall, data
                )
                if publish:
                    self.packets.publish_packet(live)
                if decode:
                    self._decoder(track).offer(live)

    def _decoder(self, track: Track) -> _DecodeThread:
        if self._decode is None or self._decode.track != track:
            if self._decode is not None:
                self._decode.close()
            self._decode = _DecodeThread(self, track)
        return self._decode

    def _publish_tracks(self, track: Track) -> None:
        self.packets.publish_tracks(
            TrackInfo(
                codec=track.codec,
                profile="",
                extradata=track.extradata,
                time_base=(1, TIMESCALE),
                width=track.width,
                height=track.height,
                bit_rate=0,
                discontinuity=True,
            )
        )
        if self._decode is not None:
            self._decode.close()  # a new decoder thread starts with the new track
            self._decode = None

    @staticmethod
    def _rate(fragment: Any) -> float:
        span = fragment.end - fragment.start
        return TIMESCALE * fragment.count / span if span > 0 else 0.0

    def _write_meta(self, current: _Open) -> None:
        """What recovery needs if the process dies while this segment is written (the
        first segment's start may still be refined by milliseconds when it closes)."""
        wall = current.start_wall if current.start_wall is not None else self._first_wall
        assert wall is not None
        start = _utc(wall)
        meta = {
            "camera_id": self.source.camera_id,
            "stream": self.source.stream,
            "start_time": start.isoformat(),
            "discontinuity": current.discontinuity,
            "event_only": self.source.event_only,
        }
        meta_path(current.path).write_text(json.dumps(meta))  # as writer.py: not fsynced
        current.meta_written = True

    def _segment_closed(self, line: str, folder: Path, watched: bool) -> None:
        """A CSV line from the child: `name,start,end` of the segment it just closed."""
        try:
            name, start_text, end_text = line.strip().rsplit(",", 2)
            end_s = float(end_text)
        except ValueError:
            self.log.warning("ffmpeg_segment_line_unreadable", line=line[:200])
            return
        current = self._open
        path = folder / Path(name).name
        if current is None or current.path != path:
            # Not the file we follow (should not happen): take this one as it is.
            if current is not None:
                current.reader.close()
            current = _Open(0, path, float(start_text), FragmentReader(str(path)), True)
        self._tail(watched)  # the last fragments, written at the close, for viewers too
        if current.start_s is None:
            # ffmpeg reports 0 as the first segment's start even when it began at the
            # first keyframe, seconds into its clock: what the file holds is its length.
            current.start_s = end_s - current.reader.end / TIMESCALE
        if current.start_wall is None and self._first_wall is not None:
            # The first segment closes: its start is settled, and with it the anchor.
            current.start_wall = self._first_wall
            self._origin_s = current.start_s
            self._anchor = current.start_wall - current.start_s
        now = time.time()
        jump = self._anchor is not None and abs(now - (self._anchor + end_s)) > CLOCK_JUMP_S
        if jump:
            self.log.warning("camera_clock_jump")
            self._gap_before = True
            self._anchor = now - end_s
        nxt = current.index + 1
        nxt_path = folder / path.name.replace(f"-{current.index:06d}.", f"-{nxt:06d}.")
        following = _Open(nxt, nxt_path, end_s, FragmentReader(str(nxt_path)), jump)
        if self._anchor is not None and current.start_wall is not None:
            following.start_wall = (
                self._anchor + end_s if jump else current.start_wall + (end_s - current.start_s)
            )
        self._open = following
        self._commit(current, end_s - current.start_s)

    def _commit(self, done: _Open, seconds: float) -> None:
        reader = done.reader
        reader.close()
        start_wall = done.start_wall
        if start_wall is None or reader.frames == 0 or seconds <= 0:
            self._discard(done.path)
            return
        if not self.spool.has_room():
            self._discard(done.path)
            self._dropped("the local spool is full; segments are being dropped")
            return
        start, end = _utc(start_wall), _utc(start_wall + seconds)
        try:
            digest = hashlib.sha256()
            with done.path.open("rb") as handle:  # one pass: hash, then make it durable
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                os.fsync(handle.fileno())
                size = handle.tell()
            track = reader.track
            closed = ClosedSegment(
                id=segment_id(self.source.camera_id, self.source.stream, start),
                camera_id=self.source.camera_id,
                stream=self.source.stream,
                start_time=start,
                end_time=end,
                size_bytes=size,
                sha256=digest.hexdigest(),
                video_codec=track.codec if track else "h264",
                width=track.width if track else 0,
                height=track.height if track else 0,
                frame_rate=round(reader.frames / seconds, 3),
                frames=reader.frames,
                discontinuity=done.discontinuity,
                event_only=self.source.event_only,
            )
            spooled = self.spool.commit(done.path, closed)
            meta_path(done.path).unlink(missing_ok=True)
        except OSError as exc:
            self._discard(done.path)
            self._dropped(f"closing a segment failed: {exc}")
            return
        with self._health_lock:
            self._health.recording(end, True)
        if self.on_segment is not None:
            self.on_segment(spooled)

    def _dropped(self, error: str) -> None:
        """A closed segment could not be spooled: the next one follows a gap."""
        self._fail_recording(error)
        if self._open is not None:
            self._open.discontinuity = True

    def _discard(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        meta_path(path).unlink(missing_ok=True)

    def _drop_open(self) -> None:
        """After the child exited: a segment it left unfinished (killed when the camera
        stalled) is kept up to its last whole fragment, as recovery.py would."""
        current, self._open = self._open, None
        if current is None or not current.path.exists():
            return
        current.reader.poll(want_data=False)
        reader = current.reader
        reader.close()
        if current.start_wall is None:
            current.start_wall = self._first_wall  # the connection's first segment
        try:
            os.truncate(current.path, reader.pos)
        except OSError:
            self._discard(current.path)
            return
        self._commit(current, reader.end / TIMESCALE)


class _DecodeThread:
    """Decodes a session's live packets for frame subscribers, in its own thread.

    The queue holds about two seconds; when analytics cannot keep up, packets are
    dropped up to the next keyframe (the decoder restarts there)."""

    def __init__(self, session: FfmpegSession, track: Track) -> None:
        self.session, self.track = session, track
        self._queue: queue.Queue[LivePacket | None] = queue.Queue(64)
        self._skip = self._closed = False
        self._reset = True
        stream = SimpleNamespace(
            codec_context=SimpleNamespace(name=track.codec, extradata=track.extradata)
        )
        self._stream = stream
        self._thread = threading.Thread(
            target=self._run, name=f"decode-{session.source.camera_id}", daemon=True
        )
        self._thread.start()

    def offer(self, packet: LivePacket) -> None:
        if self._skip and not packet.keyframe:
            return
        try:
            self._queue.put_nowait(packet)
            self._skip = False
        except queue.Full:
            self._skip = self._reset = True  # resume at the next keyframe, decoder anew

    def close(self) -> None:
        self._closed = True
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass

    def _run(self) -> None:
        frames = self.session.frames
        while not self._closed:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if item is None:
                break
            if self._reset:
                self._reset = False
                frames.reset()
            packet = av.Packet(item.data)
            packet.pts, packet.dts = item.pts, item.dts
            packet.is_keyframe = item.keyframe
            frames.feed(packet, self._stream, item.capture_time)


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
