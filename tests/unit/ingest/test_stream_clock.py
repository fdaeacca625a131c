"""Wall-clock stamps from stream time and arrival (rtcc.ingest.stream_clock)."""

from __future__ import annotations

import itertools

from rtcc.ingest.stream_clock import StreamClock

T0 = 1_800_000_000.0  # wall seconds at stream time 0
FPS = 15


def _stamps(clock: StreamClock, arrivals: list[tuple[float, float]]) -> list[float]:
    out = []
    for stream_s, arrival in arrivals:
        stamp, jumped = clock.stamp(stream_s, arrival)
        assert not jumped
        out.append(stamp)
    return out


def test_a_late_first_packet_does_not_delay_the_rest_of_the_connection() -> None:
    # The first 2 s arrive 2 s late, in a burst at 4x speed; then on time (+5 ms).
    packets = []
    for i in range(10 * FPS):
        s = i / FPS
        late = max(0.005, 2.0 - 0.75 * s)
        packets.append((s, T0 + s + late))
    stamps = _stamps(StreamClock(3.0), packets)
    assert all(b >= a for a, b in itertools.pairwise(stamps))
    assert all(stamp <= arrival for stamp, (_, arrival) in zip(stamps, packets, strict=True))
    # Once a packet arrives on time, every stamp is within its network delay.
    on_time = [st - (T0 + s) for st, (s, _) in zip(stamps, packets, strict=True) if s >= 3]
    assert max(on_time) <= 0.006
    # A fixed anchor on the first packet would have kept the 2 s for the connection.
    assert stamps[-1] - (T0 + packets[-1][0]) < 0.01


def test_delayed_packets_keep_their_capture_times() -> None:
    # A 2 s stall of the network, then the packets caught up: stamps stay the capture's.
    clock = StreamClock(3.0)
    packets = [(i / FPS, T0 + i / FPS + 0.01) for i in range(FPS * 5)]
    packets += [(5 + i / FPS, T0 + 7.0 + i / (4 * FPS)) for i in range(FPS * 2)]
    stamps = _stamps(clock, packets)
    assert max(abs(st - (T0 + s)) for st, (s, _) in zip(stamps, packets, strict=True)) < 0.011


def test_a_camera_clock_slower_than_ours_is_followed_without_a_jump() -> None:
    # 50 ppm slow over a day, one packet a second (the drift allowance is 100 ppm).
    clock = StreamClock(3.0)
    packets = [(i * (1 - 50e-6), T0 + i + 0.01) for i in range(0, 86_400, 1)]
    stamps = _stamps(clock, packets)
    assert abs(stamps[-1] - packets[-1][1]) < 0.05


def test_a_jump_of_the_stream_clock_either_way_starts_again() -> None:
    clock = StreamClock(3.0)
    assert clock.stamp(10.0, T0 + 10.0) == (T0 + 10.0, False)
    assert clock.stamp(10.5, T0 + 10.5) == (T0 + 10.5, False)
    # The camera restarted its clock: stream time back to 0 at T0 + 11.
    assert clock.stamp(0.0, T0 + 11.0) == (T0 + 11.0, True)
    assert clock.stamp(0.5, T0 + 11.5) == (T0 + 11.5, False)
    # Timestamps leapt 60 s ahead: stamped at arrival, never in the future.
    stamp, jumped = clock.stamp(61.0, T0 + 12.0)
    assert jumped and stamp == T0 + 12.0
