"""The live relay: cached GOP for new viewers, slow viewers isolated, one upstream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from fractions import Fraction

from rtcc.playback.packets import EncodedPacket, SourceEvents, TrackInfo
from rtcc.playback.relay import CameraRelay, RelayHub


def packet(pts: int, key: bool = False) -> EncodedPacket:
    return EncodedPacket(b"\x00\x00\x00\x01" + bytes([pts % 256]), pts, Fraction(1, 90000), key)


def drain(queue: asyncio.Queue[EncodedPacket | None]) -> list[int]:
    out = []
    while not queue.empty():
        item = queue.get_nowait()
        out.append(-1 if item is None else item.pts)
    return out


class EndlessSource:
    """Emits a keyframe every 3 packets, forever, yielding to the loop between them."""

    def __init__(self, opened: list[int]) -> None:
        opened.append(1)
        self.events = SourceEvents(track=TrackInfo("h264"))

    async def packets(self) -> AsyncIterator[EncodedPacket]:
        pts = 0
        while True:
            yield packet(pts, key=pts % 3 == 0)
            pts += 1
            await asyncio.sleep(0)


def test_a_new_viewer_starts_at_the_cached_keyframe() -> None:
    relay = CameraRelay(open_source=lambda: EndlessSource([]))
    for pts, key in [(0, True), (1, False), (2, True), (3, False), (4, False)]:
        relay.publish(packet(pts, key))
    viewer = relay.subscribe()
    assert drain(viewer.queue) == [2, 3, 4]
    relay.publish(packet(5))
    assert drain(viewer.queue) == [5]


def test_without_a_cached_keyframe_a_viewer_waits_for_the_next_one() -> None:
    relay = CameraRelay(open_source=lambda: EndlessSource([]))
    relay.publish(packet(0))  # joined mid-GOP: nothing decodable cached
    viewer = relay.subscribe()
    relay.publish(packet(1))
    relay.publish(packet(2, key=True))
    assert drain(viewer.queue) == [2]


def test_a_slow_viewer_drops_to_the_next_keyframe_without_hurting_others() -> None:
    relay = CameraRelay(open_source=lambda: EndlessSource([]), queue_size=3)
    slow, fast = relay.subscribe(), relay.subscribe()
    for pts in range(5):
        relay.publish(packet(pts, key=pts == 0))
        drain(fast.queue)
    assert drain(slow.queue) == [0, 1, 2]
    relay.publish(packet(5))  # still waiting for a keyframe
    relay.publish(packet(6, key=True))
    assert drain(slow.queue) == [6]
    assert slow.dropped == 3


async def test_viewers_of_one_camera_share_one_upstream_closed_with_the_last() -> None:
    opened: list[int] = []
    hub = RelayHub(lambda key: lambda: EndlessSource(opened))
    relay, first = hub.subscribe("cam_a/0")
    _, second = hub.subscribe("cam_a/0")
    await asyncio.wait_for(relay.track_known.wait(), 2)
    assert (await asyncio.wait_for(first.next(), 2)) is not None
    assert (await asyncio.wait_for(second.next(), 2)) is not None
    assert len(opened) == 1
    await hub.unsubscribe("cam_a/0", first)
    assert "cam_a/0" in hub.relays
    await hub.unsubscribe("cam_a/0", second)
    assert hub.relays == {}


def test_a_paused_live_viewer_resumes_at_the_next_keyframe() -> None:
    relay = CameraRelay(open_source=lambda: EndlessSource([]))
    viewer = relay.subscribe()
    relay.publish(packet(0, key=True))
    viewer.pause()
    relay.publish(packet(1))
    viewer.resume()
    relay.publish(packet(2))
    relay.publish(packet(3, key=True))
    assert drain(viewer.queue) == [0, 3]
