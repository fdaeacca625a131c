"""Recorded play: pace a recording's packets at a speed, pause, seek.

A :class:`RecordedFeed` runs one producer task that reads a :class:`PacketSource`
opened at the current start instant and hands each packet over when it is due
(capture-time distance divided by the rate). Seek replaces the producer; pause
holds it; a rate change or a gap re-anchors the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from rtcc.core.errors import InvalidArgument
from rtcc.playback.packets import EncodedPacket, PacketSource, SourceEvents

log = structlog.get_logger("rtcc.playback.recorded")

RATES = (0.25, 16.0)
# A jump in capture time larger than this is a gap: restart the clock there.
_MAX_STEP_S = 1.0


def check_rate(rate: float) -> float:
    rate = rate or 1.0
    if not RATES[0] <= rate <= RATES[1]:
        raise InvalidArgument(f"rate must be between {RATES[0]} and {RATES[1]}, got {rate}")
    return rate


@dataclass
class _Anchor:
    wall: float
    capture: dt.datetime


class RecordedFeed:
    """Packets of a recording, released at playback speed; ``next()`` never ends."""

    def __init__(
        self, open_source: Callable[[dt.datetime], PacketSource], start: dt.datetime, rate: float
    ) -> None:
        self._open = open_source
        self._queue: asyncio.Queue[EncodedPacket] = asyncio.Queue(1)
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._anchor: _Anchor | None = None
        self._last_capture: dt.datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self.rate = check_rate(rate)
        self.position: dt.datetime | None = start
        self.events = SourceEvents()
        self._start = start

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    async def next(self) -> EncodedPacket | None:
        if self._task is None:
            self._restart()
        return await self._queue.get()

    def seek(self, instant: dt.datetime) -> None:
        self._start = instant
        self.position = instant
        self._restart()

    def set_rate(self, rate: float) -> None:
        self.rate = check_rate(rate)
        self._anchor = None

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._anchor = None
        self._resumed.set()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _restart(self) -> None:
        if self._task is not None:
            self._task.cancel()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._anchor = None
        self._last_capture = None
        source = self._open(self._start)
        self.events = source.events
        self._task = asyncio.create_task(self._produce(source), name="recorded-feed")

    async def _produce(self, source: PacketSource) -> None:
        try:
            async for packet in source.packets():
                await self._resumed.wait()
                await self._wait_due(packet)
                await self._queue.put(packet)
                self.position = packet.capture_time
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("recorded_read_failed", error=str(exc))
            source.events.ended = True

    async def _wait_due(self, packet: EncodedPacket) -> None:
        """Sleep until the packet's turn at the current rate (pacing, not syncing)."""
        capture = packet.capture_time
        if capture is None:
            return
        loop = asyncio.get_running_loop()
        anchor, previous = self._anchor, self._last_capture
        self._last_capture = capture
        step = (capture - previous).total_seconds() if previous is not None else None
        if anchor is None or step is None or not 0 <= step <= _MAX_STEP_S:
            self._anchor = _Anchor(loop.time(), capture)
            return
        due = anchor.wall + (capture - anchor.capture).total_seconds() / self.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
