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
from rtcc.core.supervisor import RestartPolicy, Supervisor

log = structlog.get_logger("rtcc.analytics.pipeline")

# A failing sink is retried from 0.5 s up to every 10 s, for as long as the camera runs.
SINK_RETRY = RestartPolicy(initial_backoff_s=0.5, max_backoff_s=10.0)


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
        supervisor: Supervisor | None = None,
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
        self._finished = False
        self._now = now
        # The worker runs supervised: a sink that raises (bus or database away) is
        # logged, counted and retried with backoff; its unsent events are kept.
        self._supervisor = supervisor or Supervisor()
        self._unsent: collections.deque[tuple[DetectedEvent, datetime | None, float]] = (
            collections.deque(maxlen=1000)
        )
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
        name = f"analytics-sink-{self.analyser.setup.camera_id}"
        worker = self._supervisor.start(name, self._work, target="analytics", policy=SINK_RETRY)
        try:
            async for capture_time, frame in frames:
                self.offer(capture_time, frame)
                await asyncio.sleep(0)  # let the worker pick frames between arrivals
            self._done = True
            self._ready.set()
            assert worker.task is not None
            await worker.task
        finally:
            if not worker.done():
                await self._supervisor.cancel(name)
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        await self._send_unsent()  # events a failed attempt could not hand to the sink
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
        if not self._finished:
            self._finished = True
            events = await loop.run_in_executor(self._executor, self.analyser.finish)
            await self._emit(events, None, clock.perf_counter())

    async def _emit(
        self, events: list[DetectedEvent], capture_time: datetime | None, started: float
    ) -> None:
        self._unsent.extend((event, capture_time, started) for event in events)
        await self._send_unsent()

    async def _send_unsent(self) -> None:
        while self._unsent:
            event, capture_time, started = self._unsent[0]
            if capture_time is not None:
                wall = (self._now.now(UTC) - capture_time).total_seconds()
                # Frames replayed from the past have no meaningful wall-clock latency.
                event.latency_s = wall if 0 <= wall < 60 else clock.perf_counter() - started
                self.stats.latencies.append(event.latency_s)
            await self._sink.publish(event)
            self._unsent.popleft()
            self.stats.last_event_time = event.event.event_time
