"""A wall tile's feed: paced catch-up, main to sub stream at a keyframe, on one track."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from fractions import Fraction

import pytest
from tests.waiting import wait_for

from rtcc.playback.packets import EncodedPacket, SourceEvents, TrackInfo
from rtcc.playback.relay import RelayHub
from rtcc.playback.wallfeed import MAIN, SUB, CatchUpPacer, SendBudget, TileFeed

TB = Fraction(1, 90000)


def packet(tag: int, key: bool = False, seconds: float | None = None) -> EncodedPacket:
    pts = round((tag if seconds is None else seconds) * 9000)  # 10 fps unless told
    return EncodedPacket(bytes([tag % 256]), pts, TB, key)


class Idle:
    """A source that never yields: the tests publish into its relay themselves."""

    def __init__(self) -> None:
        self.events = SourceEvents(track=TrackInfo("h264"))

    async def packets(self) -> AsyncIterator[EncodedPacket]:
        await asyncio.Event().wait()
        yield packet(0)  # pragma: no cover


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_keyframe_goes_at_once_and_the_cached_gop_at_four_times_real_time() -> None:
    pacer = CatchUpPacer(speedup=4.0)
    # A 10 fps GOP handed over at one instant: 0.1 s of media apart, 25 ms apart on the wire.
    delays = [pacer.delay(i * 0.1, now=50.0) for i in range(5)]
    assert delays == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1])


def test_a_viewer_that_has_caught_up_is_never_delayed() -> None:
    pacer = CatchUpPacer(speedup=4.0)
    assert [pacer.delay(i * 0.1, now=10.0 + i * 0.1) for i in range(5)] == [0.0] * 5


def test_a_jump_in_media_time_is_not_paced() -> None:
    pacer = CatchUpPacer(speedup=4.0)
    pacer.delay(0.0, now=1.0)
    assert pacer.delay(3600.0, now=1.0) == 0.0  # another stream's clock, or a reset
    assert pacer.delay(-5.0, now=1.0) == 0.0


def test_a_wall_sends_sixteen_keyframes_spread_over_time_not_at_once() -> None:
    budget = SendBudget(rate=8e6, burst=128 * 1024)
    holds = [budget.reserve(64 * 1024, now=5.0) for _ in range(16)]  # one per tile
    assert holds[:2] == [0.0, 0.0]  # within the burst
    assert holds == sorted(holds)  # in the order they asked
    assert holds[-1] == pytest.approx((16 * 64 - 128) * 1024 / 8e6)  # ~0.11 s for 1 MiB
    assert budget.reserve(1000, now=5.0 + holds[-1] + 1.0) == 0.0  # refilled


def primed_relay(hub: RelayHub, key: str, gop: list[EncodedPacket]) -> None:
    relay, _ = hub.subscribe(key)  # a viewer keeps the relay (and its GOP) alive
    relay.track = TrackInfo("h264")
    relay.track_known.set()
    for p in gop:
        relay.publish(p)


def tile(hub: RelayHub, stream: int, clock: Clock, hold: bool = False) -> TileFeed:
    _, sub = hub.subscribe(f"cam_a/{stream}")
    return TileFeed(hub, "cam_a", stream, sub, codec="h264", hold=hold,
                    pacer=CatchUpPacer(speedup=1e9), switch_wait_s=5.0, clock=clock)  # fmt: skip


async def test_a_tile_moves_to_the_sub_stream_at_its_next_keyframe_not_its_cached_gop() -> None:
    hub = RelayHub(lambda key: lambda: Idle())
    clock = Clock()
    primed_relay(hub, "cam_a/0", [packet(1, key=True), packet(2)])
    primed_relay(hub, "cam_a/2", [packet(50, key=True), packet(51)])  # already cached
    feed = tile(hub, MAIN, clock)
    feed.want(SUB)
    assert feed.wanted == SUB and feed.stream == MAIN
    assert (await feed.next()).data == bytes([1])  # type: ignore[union-attr]
    main, sub = hub.relays["cam_a/0"][0], hub.relays["cam_a/2"][0]
    sub.publish(packet(52))  # not a keyframe: the tile stays on the main stream
    assert (await feed.next()).data == bytes([2])  # type: ignore[union-attr]
    sub.publish(packet(53, key=True))
    main.publish(packet(3))
    assert (await feed.next()).data == bytes([53])  # type: ignore[union-attr]
    assert feed.stream == SUB and feed.switches == 1
    assert len(main.subscribers) == 1  # the tile left the main stream's relay
    await feed.close()
    assert len(sub.subscribers) == 1
    await hub.close()


async def test_a_tile_stays_on_the_main_stream_when_no_sub_stream_comes() -> None:
    hub = RelayHub(lambda key: lambda: Idle())
    clock = Clock()
    primed_relay(hub, "cam_a/0", [packet(1, key=True)])
    feed = tile(hub, MAIN, clock)
    feed.want(SUB)
    assert "cam_a/2" in hub.relays  # asked for, while the main stream keeps playing
    assert (await feed.next()).data == bytes([1])  # type: ignore[union-attr]
    clock.now += 6.0  # past switch_wait_s
    hub.relays["cam_a/0"][0].publish(packet(2))
    assert (await feed.next()).data == bytes([2])  # type: ignore[union-attr]
    assert feed.wanted == MAIN and feed.switches == 0
    # the dropped subscription leaves its relay in the background
    await wait_for(lambda: "cam_a/2" not in hub.relays, within_s=2, what="the sub relay gone")
    await feed.close()
    await hub.close()


async def test_a_tile_does_not_switch_to_a_stream_of_another_codec() -> None:
    hub = RelayHub(lambda key: lambda: Idle())
    clock = Clock()
    primed_relay(hub, "cam_a/0", [packet(1, key=True)])
    primed_relay(hub, "cam_a/2", [])
    hub.relays["cam_a/2"][0].track = TrackInfo("hevc")
    feed = tile(hub, MAIN, clock)
    feed.want(SUB)
    hub.relays["cam_a/2"][0].publish(packet(9, key=True))
    assert (await feed.next()).data == bytes([1])  # type: ignore[union-attr]
    assert feed.stream == MAIN
    await feed.close()
    await hub.close()


async def test_a_closed_tile_ends_its_track() -> None:
    hub = RelayHub(lambda key: lambda: Idle())
    primed_relay(hub, "cam_a/0", [])
    feed = tile(hub, MAIN, Clock())
    started = asyncio.Event()

    async def next_packet() -> object:
        started.set()
        return await feed.next()

    waiting = asyncio.ensure_future(next_packet())
    await started.wait()  # the track is waiting for a packet when the tile closes
    await feed.close()
    assert await asyncio.wait_for(waiting, 2) is None
    await hub.close()


async def test_a_held_tile_shows_one_main_keyframe_then_nothing_until_the_sub_stream() -> None:
    hub = RelayHub(lambda key: lambda: Idle())
    clock = Clock()
    primed_relay(hub, "cam_a/0", [packet(1, key=True), packet(2), packet(3)])
    primed_relay(hub, "cam_a/2", [])
    feed = tile(hub, MAIN, clock, hold=True)
    feed.want(SUB)
    assert (await feed.next()).data == bytes([1])  # type: ignore[union-attr]
    hub.relays["cam_a/2"][0].publish(packet(60, key=True))
    hub.relays["cam_a/0"][0].publish(packet(4))
    # Main frames 2, 3 and 4 are not sent: the next one is the sub stream's keyframe.
    assert (await feed.next()).data == bytes([60])  # type: ignore[union-attr]
    hub.relays["cam_a/2"][0].publish(packet(61))
    assert (await feed.next()).data == bytes([61])  # type: ignore[union-attr]
    await feed.close()
    await hub.close()


async def test_a_held_tile_without_a_sub_stream_goes_on_from_the_next_main_keyframe() -> None:
    hub = RelayHub(lambda key: lambda: Idle())
    clock = Clock()
    primed_relay(hub, "cam_a/0", [packet(1, key=True), packet(2)])
    feed = tile(hub, MAIN, clock, hold=True)
    feed.want(SUB)
    assert (await feed.next()).data == bytes([1])  # type: ignore[union-attr]
    clock.now += 6.0  # the sub stream never came
    main = hub.relays["cam_a/0"][0]
    main.publish(packet(3))
    main.publish(packet(4, key=True))
    main.publish(packet(5))
    assert (await feed.next()).data == bytes([4])  # type: ignore[union-attr]
    assert (await feed.next()).data == bytes([5])  # type: ignore[union-attr]
    await feed.close()
    await hub.close()
