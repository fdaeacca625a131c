"""The per-camera pipeline: bounded queue with drop-oldest, worker thread, sink."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from datetime import datetime

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import Detection, Frame, ObjectClass
from rtcc.analytics.events import CollectingSink
from rtcc.analytics.pipeline import CameraPipeline
from rtcc.analytics.records import EVENT_TYPE_CODES

from .synthetic import BlobDetector, Mover, frames

CAR = Mover(ObjectClass.VEHICLE, (0, 0, 200), (20, 150), (100, 0), (200, 110))


async def _feed(sequence: list[tuple[datetime, Frame]]) -> AsyncIterator[tuple[datetime, Frame]]:
    for item in sequence:
        yield item


async def test_frames_flow_to_events_in_the_sink() -> None:
    sink = CollectingSink()
    analyser = CameraAnalyser(CameraSetup("cam_1", "org_1"), DetectorSet(objects=BlobDetector()))
    pipeline = CameraPipeline(analyser, sink, queue_size=100)
    await pipeline.run(_feed(frames([CAR], 3.0)))
    assert pipeline.stats.dropped == 0
    assert pipeline.stats.processed == 15
    assert [e.event.type for e in sink.events] == [EVENT_TYPE_CODES["object_appeared"]]
    assert all(e.latency_s >= 0 for e in sink.events)


class _SlowDetector(BlobDetector):
    """Blocks until released, so frames pile up behind it."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def detect(self, frame: Frame) -> list[Detection]:
        self.release.wait(timeout=5)
        return super().detect(frame)


async def test_a_full_queue_drops_the_oldest_frames_and_counts_them() -> None:
    detector = _SlowDetector()
    analyser = CameraAnalyser(CameraSetup("cam_1", "org_1"), DetectorSet(objects=detector))
    pipeline = CameraPipeline(analyser, CollectingSink(), queue_size=3)
    sequence = frames([CAR], 4.0)
    for capture_time, frame in sequence:
        pipeline.offer(capture_time, frame)
    assert pipeline.stats.dropped == len(sequence) - 3
    detector.release.set()
    await pipeline.run(_feed([]))
    assert pipeline.stats.processed == 3
    assert pipeline.stats.received == len(sequence)


class _ExplodingDetector(BlobDetector):
    def detect(self, frame: Frame) -> list[Detection]:
        raise RuntimeError("boom")


async def test_a_failing_detector_is_counted_and_the_camera_goes_on() -> None:
    analyser = CameraAnalyser(CameraSetup("c", "o"), DetectorSet(objects=_ExplodingDetector()))
    pipeline = CameraPipeline(analyser, CollectingSink(), queue_size=100)
    await pipeline.run(_feed(frames([CAR], 1.0)))
    assert pipeline.stats.failed == 5
