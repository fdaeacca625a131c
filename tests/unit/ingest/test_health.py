"""Stream health from packets: online, degraded when slow, offline on failure."""

from __future__ import annotations

import datetime as dt

from rtcc.ingest.health import DEGRADED, OFFLINE, ONLINE, HealthTracker

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _feed(tracker: HealthTracker, fps: float, seconds: float, start: float = 0.0) -> float:
    t = start
    while t < start + seconds:
        tracker.packet(T0 + dt.timedelta(seconds=t), t, 16_000)
        t += 1 / fps
    return t


def test_stream_at_its_frame_rate_is_online_with_fps_and_bitrate() -> None:
    tracker = HealthTracker(T0)
    tracker.connected(T0, 0.0, 15.0)
    end = _feed(tracker, 15, 10)
    health = tracker.snapshot(T0, end)
    assert health.state == ONLINE
    assert 14 <= health.fps <= 16 and 1_800_000 <= health.bitrate_bps <= 2_000_000


def test_stream_below_80_percent_of_its_rate_is_degraded() -> None:
    tracker = HealthTracker(T0)
    tracker.connected(T0, 0.0, 15.0)
    end = _feed(tracker, 8, 10)
    assert tracker.snapshot(T0, end).state == DEGRADED


def test_failure_is_offline_with_the_error_and_a_reconnect_count() -> None:
    tracker = HealthTracker(T0)
    tracker.failed(T0, "connection refused")
    health = tracker.snapshot(T0, 1.0)
    assert health.state == OFFLINE and health.last_error == "connection refused"
    assert health.reconnect_count == 1 and not health.recording


def test_recording_failure_degrades_an_online_stream() -> None:
    tracker = HealthTracker(T0)
    tracker.connected(T0, 0.0, 15.0)
    end = _feed(tracker, 15, 5)
    tracker.recording(T0, False, "the local spool is full")
    health = tracker.snapshot(T0, end)
    assert health.state == DEGRADED and "spool" in health.last_error
