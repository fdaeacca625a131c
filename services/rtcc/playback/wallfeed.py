"""What one tile of a video wall is fed: a camera's main or sub stream, paced.

A :class:`TileFeed` reads one :class:`~rtcc.playback.relay.Subscriber` at a time. A
small tile wants the sub stream, but the sub stream may not be connected yet (ingest
connects it on demand, ~1-3 s of RTSP set-up), while the main stream is (ingest
records it) and its last GOP is cached. So a tile starts on the sub stream only when
this process relays it already with a keyframe cached; otherwise it starts on the main
stream and moves to the sub stream at the sub stream's next keyframe, on the same
video track: the browser's decoder takes the new SPS/PPS at that keyframe, nothing is
renegotiated. Full screen moves a tile back to the main stream the same way.

The cached GOP a new viewer is primed with (up to 2 s of video) would otherwise leave
at once, for every tile at once. :class:`CatchUpPacer` lets the keyframe go first and
the rest of the GOP at a few times real time, so every tile's first picture goes out
before the other tiles' catch-up frames. And every tile of a wall shares one UDP
socket pair: sixteen keyframes sent at once (~1 MB) overflow the browser's receive
buffer, and the lost packets are resent or, worse, the tile waits for the next
keyframe. :class:`SendBudget` spreads what the wall's tiles send over time, and a small
tile that starts on the main stream only to have a picture at once (``hold``) sends
that stream's cached keyframe and then nothing until its sub stream's first keyframe:
a still picture for the second or two the sub stream takes, instead of sixteen main
streams (32 Mbit/s, packetised in Python) through one socket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from rtcc.playback.packets import EncodedPacket
from rtcc.playback.relay import RelayHub, Subscriber

MAIN, SUB = 0, 2


@dataclass
class CatchUpPacer:
    """Frames no faster than ``speedup`` x real time; never delays a live stream.

    Pure: given a frame's media time and the clock, how long to hold it. A frame that
    arrives later than its paced instant (the viewer has caught up) goes at once.
    """

    speedup: float = 4.0
    max_step_s: float = 1.0  # a larger jump in media time (a new stream) is not paced
    _media_s: float | None = None
    _sent_s: float = 0.0

    def delay(self, media_s: float, now: float) -> float:
        due = now
        if self._media_s is not None:
            step = media_s - self._media_s
            if 0 <= step <= self.max_step_s:
                due = max(now, self._sent_s + step / self.speedup)
        self._media_s, self._sent_s = media_s, due
        return due - now

    def reset(self) -> None:
        self._media_s = None


@dataclass
class SendBudget:
    """A token bucket of bytes, shared by the tiles of one wall (one socket).

    Pure: :meth:`reserve` takes the bytes now and says how long to hold them so that
    the connection sends at most ``rate`` bytes/s beyond a ``burst``; later callers
    queue behind earlier ones, so the first keyframes of every tile go first.
    """

    rate: float = 8e6  # 64 Mbit/s: twice sixteen 2 Mbit/s main streams
    burst: float = 128 * 1024
    _tokens: float | None = None
    _at: float = 0.0

    def reserve(self, size: int, now: float) -> float:
        tokens = self.burst if self._tokens is None else self._tokens
        tokens = min(self.burst, tokens + max(0.0, now - self._at) * self.rate)
        self._at, self._tokens = now, tokens - size
        return max(0.0, -self._tokens / self.rate)


class TileFeed:
    """One tile's packets (``None``: the tile ended). Owned by its wall session."""

    def __init__(
        self,
        hub: RelayHub,
        camera_id: str,
        stream: int,
        sub: Subscriber,
        *,
        codec: str,
        pacer: CatchUpPacer | None = None,
        budget: SendBudget | None = None,
        hold: bool = False,
        switch_wait_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hub = hub
        self.camera_id = camera_id
        self.stream = stream  # the stream being sent
        self.codec = codec
        self._sub = sub
        self._next: tuple[int, Subscriber, float] | None = None
        self._pacer = pacer or CatchUpPacer()
        self._budget = budget
        # Hold: send the first keyframe, then nothing until the wanted stream comes.
        self._holding, self._shown = hold, False
        self._switch_wait_s = switch_wait_s
        self._clock = clock
        self.switches = 0
        self.ended = False
        self._leaving: set[asyncio.Task[None]] = set()  # subscriptions being dropped

    def _key(self, stream: int) -> str:
        return f"{self.camera_id}/{stream}"

    def want(self, stream: int) -> None:
        """Move to ``stream`` at its next keyframe (this one keeps playing until then)."""
        if self.ended:
            return
        if self._next is not None:
            if self._next[0] == stream:
                return
            self._drop_pending()
        if stream == self.stream:
            return
        _, sub = self._hub.subscribe(self._key(stream), primed=False)
        self._next = (stream, sub, self._clock() + self._switch_wait_s)

    @property
    def wanted(self) -> int:
        return self._next[0] if self._next else self.stream

    def _drop_pending(self) -> None:
        if self._next is not None:
            stream, sub, _ = self._next
            self._next = None
            task = asyncio.ensure_future(self._hub.unsubscribe(self._key(stream), sub))
            self._leaving.add(task)
            task.add_done_callback(self._leaving.discard)

    async def _maybe_switch(self) -> None:
        if self._next is None:
            return
        stream, sub, deadline = self._next
        relay = self._hub.relays.get(self._key(stream))
        same_codec = (
            relay is not None
            and relay[0].track is not None
            and (relay[0].track.codec == self.codec)
        )
        if not sub.queue.empty() and same_codec:  # unprimed: its head is a keyframe
            old, old_stream = self._sub, self.stream
            self._sub, self.stream, self._next = sub, stream, None
            self.switches += 1
            self._pacer.reset()
            await self._hub.unsubscribe(self._key(old_stream), old)
        elif self._clock() > deadline:  # no such stream, or not now: stay
            self._drop_pending()

    async def _packet(self) -> EncodedPacket | None:
        await self._maybe_switch()
        packet = await self._sub.next()
        if packet is None and self._next is not None and not self.ended:
            switches = self.switches  # this stream ended: the other one, if it has come
            self._next = (self._next[0], self._next[1], self._clock())
            await self._maybe_switch()
            packet = await self._sub.next() if self.switches != switches else None
        return packet

    async def next(self) -> EncodedPacket | None:
        while not self.ended:
            packet = await self._packet()
            if packet is None:
                return None
            if self._holding and self._shown and self._next is not None and self.switches == 0:
                continue  # a still picture until the wanted stream's keyframe comes
            if self._holding and self._shown and not packet.keyframe:
                continue  # the wait ended without it: go on from the next keyframe
            self._holding = self._holding and not (self._shown and packet.keyframe)
            self._shown = True
            return await self._paced(packet)
        return None

    async def _paced(self, packet: EncodedPacket) -> EncodedPacket:
        wait = self._pacer.delay(float(packet.pts * packet.time_base), self._clock())
        if wait > 0:
            await asyncio.sleep(wait)  # pacing the catch-up, not a synchronisation
        if self._budget is not None:
            wait = self._budget.reserve(len(packet.data), self._clock())
            if wait > 0:
                await asyncio.sleep(wait)  # pacing the connection, not a synchronisation
        return packet

    async def close(self) -> None:
        """Leave the relays (the last viewer's departure closes their upstream)."""
        self.ended = True
        pending, self._next = self._next, None
        self._sub.end()
        await self._hub.unsubscribe(self._key(self.stream), self._sub)
        if pending is not None:
            await self._hub.unsubscribe(self._key(pending[0]), pending[1])
        if self._leaving:
            await asyncio.gather(*self._leaving)
