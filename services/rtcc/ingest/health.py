"""A camera stream's connection health, from the packets seen. Pure: times are passed in."""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass

# rtcc.ingest.v1.StreamState values.
CONNECTING, ONLINE, DEGRADED, OFFLINE, DISABLED = 1, 2, 3, 4, 5
STATE_NAMES = {CONNECTING: "connecting", ONLINE: "online", DEGRADED: "degraded", OFFLINE: "offline"}


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """A snapshot of one stream's health."""

    state: int
    fps: float
    bitrate_bps: int
    recording: bool
    last_error: str
    last_error_time: dt.datetime | None
    last_packet_time: dt.datetime | None
    state_change_time: dt.datetime
    reconnect_count: int
    packets: int


class HealthTracker:
    """Counts packets over a sliding window and keeps the connection state."""

    def __init__(self, now: dt.datetime, *, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self.state, self.state_change_time = CONNECTING, now
        self.expected_fps = 0.0
        self.last_error = ""
        self.last_error_time: dt.datetime | None = None
        self.last_packet_time: dt.datetime | None = None
        self.reconnect_count = 0
        self.packets = 0
        self.recording_ok = True
        self._window: deque[tuple[float, int, int]] = deque()  # (when, packets, bytes)
        self._online_since = 0.0

    def _set(self, state: int, now: dt.datetime) -> None:
        if state != self.state:
            self.state, self.state_change_time = state, now

    def connected(self, now: dt.datetime, mono: float, expected_fps: float) -> None:
        self.expected_fps = expected_fps
        self._window.clear()
        self._online_since = mono
        self.last_error, self.last_error_time = "", None
        self._set(ONLINE, now)

    def packet(self, now: dt.datetime, mono: float, size: int) -> None:
        self.packets_read(now, mono, 1, size)

    def packets_read(self, now: dt.datetime, mono: float, count: int, size: int) -> None:
        """`count` packets of `size` bytes in all, read at once (the ffmpeg engine reads
        a fragment at a time)."""
        self.packets += count
        self.last_packet_time = now
        self._window.append((mono, count, size))
        while self._window and self._window[0][0] < mono - self.window_s:
            self._window.popleft()

    def failed(self, now: dt.datetime, error: str, *, reconnecting: bool = True) -> None:
        """The connection broke (or could not be made): offline until it comes back."""
        self.last_error, self.last_error_time = error[:1000], now
        if reconnecting:
            self.reconnect_count += 1
        self._set(OFFLINE, now)

    def recording(self, now: dt.datetime, ok: bool, error: str = "") -> None:
        self.recording_ok = ok
        if not ok:
            self.last_error, self.last_error_time = error[:1000], now

    def rates(self, mono: float) -> tuple[float, int]:
        """(frames per second, bits per second) over the window, up to `mono`."""
        span = min(self.window_s, max(mono - self._online_since, 1e-3))
        count = size = 0
        for t, n, bytes_ in self._window:
            if t >= mono - span:
                count, size = count + n, size + bytes_
        return count / span, int(size * 8 / span)

    def snapshot(self, now: dt.datetime, mono: float) -> StreamHealth:
        fps, bitrate = self.rates(mono)
        state = self.state
        if state in (ONLINE, DEGRADED):
            settled = mono - self._online_since >= 3.0
            slow = settled and self.expected_fps > 0 and fps < 0.8 * self.expected_fps
            state = DEGRADED if slow or not self.recording_ok else ONLINE
            self._set(state, now)
        return StreamHealth(
            state=self.state,
            fps=round(fps, 2),
            bitrate_bps=bitrate,
            recording=self.recording_ok and self.state in (ONLINE, DEGRADED),
            last_error=self.last_error,
            last_error_time=self.last_error_time,
            last_packet_time=self.last_packet_time,
            state_change_time=self.state_change_time,
            reconnect_count=self.reconnect_count,
            packets=self.packets,
        )
