"""Live fan-out of one camera session's packets to any number of subscribers.

The camera session's thread publishes; subscribers are asyncio queues on the event
loop. Nothing wakes the loop while nobody listens. Each subscriber has a bounded
queue: packets it cannot take are dropped and counted, and it resumes at the next
keyframe so that what it receives always decodes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """Codec parameters of a live video track."""

    codec: str
    profile: str
    extradata: bytes
    time_base: tuple[int, int]
    width: int
    height: int
    bit_rate: int
    discontinuity: bool


@dataclass(frozen=True, slots=True)
class LivePacket:
    """One encoded access unit as received from the camera."""

    pts: int
    dts: int
    duration: int
    keyframe: bool
    capture_time: dt.datetime
    data: bytes


Item = TrackInfo | LivePacket


class Subscription:
    """One subscriber's bounded queue of tracks and packets."""

    def __init__(self, fanout: PacketFanout, size: int) -> None:
        self._fanout = fanout
        self.queue: asyncio.Queue[Item] = asyncio.Queue(size)
        self.dropped = 0
        self._waiting_keyframe = False

    def offer(self, item: Item) -> None:
        """On the event loop: enqueue, or drop until the next keyframe when full."""
        if isinstance(item, LivePacket):
            if self._waiting_keyframe and not item.keyframe:
                self.dropped += 1
                return
            self._waiting_keyframe = False
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            self._waiting_keyframe = True

    async def __aiter__(self) -> AsyncIterator[Item]:
        try:
            while True:
                yield await self.queue.get()
        finally:
            self._fanout.unsubscribe(self)


class PacketFanout:
    """Publishes from a session thread to subscriptions on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._tracks: TrackInfo | None = None
        self._gop: list[LivePacket] = []  # the packets since the last keyframe
        # Called (on the event loop) after each new subscription: a session that looks
        # at its camera less often while nobody watches wakes up at once.
        self.on_subscribe: Callable[[], None] | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish_tracks(self, tracks: TrackInfo) -> None:
        with self._lock:
            self._tracks, self._gop = tracks, []
            targets = list(self._subscribers)
        for sub in targets:
            self._loop.call_soon_threadsafe(sub.offer, tracks)

    def publish_packet(self, packet: LivePacket) -> None:
        with self._lock:
            if packet.keyframe:
                self._gop = [packet]
            elif self._gop:
                self._gop.append(packet)
            targets = list(self._subscribers)
        for sub in targets:
            self._loop.call_soon_threadsafe(sub.offer, packet)

    def subscribe(self, *, from_last_keyframe: bool, queue_size: int = 256) -> Subscription:
        """On the event loop: a subscription starting with the tracks, then a keyframe."""
        sub = Subscription(self, queue_size)
        with self._lock:
            if self._tracks is not None:
                sub.offer(self._tracks)
            if from_last_keyframe:
                for packet in self._gop:
                    sub.offer(packet)
            sub._waiting_keyframe = not (from_last_keyframe and self._gop)
            self._subscribers.add(sub)
        if self.on_subscribe is not None:
            self.on_subscribe()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)
