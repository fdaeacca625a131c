"""Recorded play: speed, pause, seek over a fake recording (0.1 s between frames)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from fractions import Fraction

import pytest

from rtcc.core.errors import InvalidArgument
from rtcc.playback.packets import EncodedPacket, SourceEvents
from rtcc.playback.recorded import RecordedFeed
from rtcc.playback.timeline import merge_spans

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FakeRecording:
    """Frames every 0.1 s from ``start`` for 2 s, the first a keyframe."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start
        self.events = SourceEvents()

    async def packets(self) -> AsyncIterator[EncodedPacket]:
        for i in range(20):
            capture = self.start + dt.timedelta(seconds=i / 10)
            yield EncodedPacket(b"x", i * 9000, Fraction(1, 90000), i == 0, capture)
        self.events.ended = True


async def take(feed: RecordedFeed, count: int) -> list[dt.datetime]:
    out = []
    for _ in range(count):
        packet = await asyncio.wait_for(feed.next(), 5)
        assert packet is not None and packet.capture_time is not None
        out.append(packet.capture_time)
    return out


async def test_four_times_speed_plays_one_second_in_a_quarter() -> None:
    feed = RecordedFeed(FakeRecording, T0, rate=4)
    loop = asyncio.get_running_loop()
    await take(feed, 1)
    began = loop.time()
    await take(feed, 10)  # one second of recording
    elapsed = loop.time() - began
    await feed.close()
    assert 0.2 <= elapsed < 0.6


async def test_seek_continues_from_the_new_instant() -> None:
    feed = RecordedFeed(FakeRecording, T0, rate=16)
    await take(feed, 2)
    feed.seek(T0 + dt.timedelta(minutes=5))
    [after] = await take(feed, 1)
    await feed.close()
    assert after == T0 + dt.timedelta(minutes=5)
    assert feed.position == after


async def test_pause_holds_the_frames_until_resume() -> None:
    feed = RecordedFeed(FakeRecording, T0, rate=16)
    await take(feed, 1)
    feed.pause()
    await take(feed, 1)  # at most one frame was already handed over
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(feed.next(), 0.3)
    feed.resume()
    assert len(await take(feed, 2)) == 2
    await feed.close()


def test_rates_outside_a_quarter_to_sixteen_are_refused() -> None:
    with pytest.raises(InvalidArgument):
        RecordedFeed(FakeRecording, T0, rate=32)


def test_touching_segments_merge_into_one_timeline_span() -> None:
    s = dt.timedelta(seconds=1)
    spans = merge_spans([(T0 + 10 * s, T0 + 20 * s), (T0, T0 + 4 * s), (T0 + 4 * s, T0 + 8 * s)])
    assert spans == [(T0, T0 + 8 * s), (T0 + 10 * s, T0 + 20 * s)]
