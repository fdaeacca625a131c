"""One camera's pipeline: frames in through a bounded queue, analysis in a worker thread,
events out to a sink.

The queue drops the *oldest* frame when full (counted in ``dropped``): a camera that
falls behind analyses the newest frames it can and never grows memory. Each camera has
its own single worker thread, so one slow or broken camera cannot stall another.
"""

from __future__ import annotations

import asyncio
import collections
import time as clock
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from rtcc.analytics.analysis import CameraAnalyser
from rtcc.analytics.detection import Frame
from rtcc.analytics.events import DetectedEvent, EventSink

log = structlog.get_logger("rtcc.analytics.pipeline")


@dataclass
class PipelineStats:
    received: int = 0
    dropped: int = 0
    processed: int = 0
    failed: int = 0
    # Capture-to-sink seconds of recent events, for status and benchmarks.
    latencies: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=1000)
    )
    last_event_time: datetime | None = None


class CameraPipeline:
    def __init__(
        self,
        analyser: CameraAnalyser,
        sink: EventSink,
        *,
        queue_size: int = 4,
        now: type[datetime] = datetime,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.analyser = analyser
        self.stats = PipelineStats()
        self._sink = sink
        self._queue: collections.deque[tuple[datetime, Frame]] = collections.deque(
            maxlen=queue_size
        )
        self._ready = asyncio.Event()
        self._done = False
        self._now = now
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"analytics-{analyser.setup.camera_id}"
        )

    def offer(self, capture_time: datetime, frame: Frame) -> None:
        """Queue a frame; when the queue is full the oldest frame is dropped."""
        self.stats.received += 1
        if len(self._queue) == self._queue.maxlen:
            self.stats.dropped += 1
        self._queue.append((capture_time, frame))
        self._ready.set()

    async def run(self, frames: AsyncIterator[tuple[datetime, Frame]]) -> None:
        """Consume ``frames`` until it ends (or this task is cancelled), then flush."""
        worker = asyncio.create_task(self._work(), name="analytics-worker")
        try:
            async for capture_time, frame in frames:
                self.offer(capture_time, frame)
                await asyncio.sleep(0)  # let the worker pick frames between arrivals
        finally:
            self._done = True
            self._ready.set()
            try:
                await worker
            finally:
                self._executor.shutdown(wait=False, cancel_futures=True)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._done:
                    break
                self._ready.clear()
                await self._ready.wait()
                continue
            capture_time, frame = self._queue.popleft()
            started = clock.perf_counter()
            try:
                events = await loop.run_in_executor(
                    self._executor, self.analyser.process, capture_time, frame
                )
            except Exception:  # a detector bug must not stop the camera
                self.stats.failed += 1
                log.exception("frame_analysis_failed", camera_id=self.analyser.setup.camera_id)
                continue
            self.stats.processed += 1
            await self._emit(events, capture_time, started)
        events = await loop.run_in_executor(self._executor, self.analyser.finish)
        await self._emit(events, None, clock.perf_counter())

    async def _emit(
        self, events: list[DetectedEvent], capture_time: datetime | None, started: float
    ) -> None:
        for event in events:
            if capture_time is not None:
                wall = (self._now.now(UTC) - capture_time).total_seconds()
                # Frames replayed from the past have no meaningful wall-clock latency.
                event.latency_s = wall if 0 <= wall < 60 else clock.perf_counter() - started
                self.stats.latencies.append(event.latency_s)
            await self._sink.publish(event)
            self.stats.last_event_time = event.event.event_time
