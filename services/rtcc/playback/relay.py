"""One upstream per camera, shared by every viewer of it.

A :class:`CameraRelay` reads one :class:`PacketSource` and copies each packet into
the bounded queue of every subscriber. It keeps the packets since the last keyframe
(the current GOP) so a new viewer starts at once from that keyframe instead of
waiting for the next one (a browser's keyframe request cannot reach the camera).
A subscriber that falls behind loses packets up to the next keyframe, never the
others' packets and never memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from rtcc.playback.packets import EncodedPacket, PacketSource, TrackInfo

log = structlog.get_logger("rtcc.playback.relay")

SourceFactory = Callable[[], PacketSource]


@dataclass(eq=False)
class Subscriber:
    """One viewer's view of a relay: a bounded queue; ``None`` marks the end."""

    queue: asyncio.Queue[EncodedPacket | None]
    need_keyframe: bool = False
    dropped: int = 0
    paused: bool = False

    async def next(self) -> EncodedPacket | None:
        return await self.queue.get()

    def offer(self, packet: EncodedPacket) -> None:
        """Queue a packet; when full, drop until the next keyframe."""
        if self.paused:
            return
        if self.need_keyframe and not packet.keyframe:
            self.dropped += 1
            return
        if self.queue.full():
            self.need_keyframe = True
            self.dropped += 1
            return
        self.need_keyframe = False
        self.queue.put_nowait(packet)

    def pause(self) -> None:
        """Stop taking packets; the viewer keeps showing the last frame."""
        self.paused = True

    def resume(self) -> None:
        """Take packets again from the next keyframe: resume at the live edge."""
        self.paused = False
        self.need_keyframe = True

    def end(self) -> None:
        while self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


@dataclass(eq=False)
class CameraRelay:
    """Fan-out of one camera's packets; the upstream runs while someone watches."""

    open_source: SourceFactory
    queue_size: int = 240
    gop_limit: int = 600
    retry_s: float = 1.0
    gop: list[EncodedPacket] = field(default_factory=list)
    subscribers: set[Subscriber] = field(default_factory=set)
    track: TrackInfo | None = None
    track_known: asyncio.Event = field(default_factory=asyncio.Event)
    upstreams_opened: int = 0

    def subscribe(self, primed: bool = True) -> Subscriber:
        """A new viewer, primed with the cached GOP when it fits its queue; unprimed, it
        starts at the next keyframe (a wall tile switching streams wants a fresh one)."""
        sub = Subscriber(asyncio.Queue(self.queue_size))
        if primed and self.gop and len(self.gop) < self.queue_size:
            for packet in self.gop:
                sub.queue.put_nowait(packet)
        else:
            sub.need_keyframe = True
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def publish(self, packet: EncodedPacket) -> None:
        """Cache the packet in the GOP and hand it to every subscriber."""
        if packet.keyframe:
            self.gop = [packet]
        elif self.gop and len(self.gop) < self.gop_limit:
            self.gop.append(packet)
        else:
            self.gop = []  # GOP too long to cache, or no keyframe seen yet
        for sub in self.subscribers:
            sub.offer(packet)

    def end(self) -> None:
        for sub in self.subscribers:
            sub.end()

    async def run(self) -> None:
        """Read the upstream until cancelled; reopen it after a failure."""
        while True:
            source = self.open_source()
            self.upstreams_opened += 1
            try:
                async for packet in source.packets():
                    if source.events.track is not None and self.track is None:
                        self.track = source.events.track
                        self.track_known.set()
                    self.publish(packet)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("upstream_failed", error=str(exc))
            self.gop = []
            await asyncio.sleep(self.retry_s)  # backoff before reconnecting


@dataclass
class RelayHub:
    """The relays of one process, keyed by (camera, stream); one upstream each."""

    factory: Callable[[str], SourceFactory]
    relays: dict[str, tuple[CameraRelay, asyncio.Task[None]]] = field(default_factory=dict)

    def subscribe(self, key: str, primed: bool = True) -> tuple[CameraRelay, Subscriber]:
        entry = self.relays.get(key)
        if entry is None:
            relay = CameraRelay(self.factory(key))
            task = asyncio.create_task(relay.run(), name=f"relay:{key}")
            entry = self.relays[key] = (relay, task)
        return entry[0], entry[0].subscribe(primed)

    def cached(self, key: str) -> bool:
        """Whether the stream is being relayed now with a keyframe cached: a new viewer
        of it gets a picture at once."""
        entry = self.relays.get(key)
        return entry is not None and entry[0].track is not None and bool(entry[0].gop)

    async def unsubscribe(self, key: str, sub: Subscriber) -> None:
        """Drop a viewer; the last viewer's departure closes the upstream."""
        entry = self.relays.get(key)
        if entry is None:
            return
        relay, task = entry
        relay.unsubscribe(sub)
        if not relay.subscribers:
            del self.relays[key]
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        for key in list(self.relays):
            relay, task = self.relays.pop(key)
            relay.end()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
