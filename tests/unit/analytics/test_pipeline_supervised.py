"""A camera's sink loop under supervision: a sink that fails (bus or database away)
is retried with backoff and loses no event; the failures are counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import Frame, ObjectClass
from rtcc.analytics.events import CollectingSink, DetectedEvent
from rtcc.analytics.pipeline import CameraPipeline
from rtcc.core.errors import Unavailable
from rtcc.core.supervisor import Supervisor

from .synthetic import BlobDetector, Mover, frames

CAR = Mover(ObjectClass.VEHICLE, (0, 0, 200), (20, 150), (100, 0), (200, 110))
TRUCK = Mover(ObjectClass.VEHICLE, (0, 200, 0), (30, 150), (60, 0), (240, 120))


async def _feed(sequence: list[tuple[datetime, Frame]]) -> AsyncIterator[tuple[datetime, Frame]]:
    for item in sequence:
        yield item


class _FlakySink(CollectingSink):
    """The real collecting sink behind a bus that is away for the first `failures` calls."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, event: DetectedEvent) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise Unavailable("the NATS server at 127.0.0.1:4222 is unavailable")
        await super().publish(event)


async def test_a_failing_sink_is_retried_and_every_event_arrives() -> None:
    reference = CollectingSink()
    analyser = CameraAnalyser(CameraSetup("cam_1", "org_1"), DetectorSet(objects=BlobDetector()))
    await CameraPipeline(analyser, reference, queue_size=100).run(_feed(frames([CAR, TRUCK], 3.0)))
    assert reference.events, "the scene produces events"

    sink = _FlakySink(failures=3)
    analyser = CameraAnalyser(CameraSetup("cam_1", "org_1"), DetectorSet(objects=BlobDetector()))
    pipeline = CameraPipeline(analyser, sink, queue_size=100, supervisor=Supervisor())
    await pipeline.run(_feed(frames([CAR, TRUCK], 3.0)))
    assert sink.failures == 0, "the sink failed three times"
    assert [e.event.type for e in sink.events] == [e.event.type for e in reference.events]
    assert pipeline.stats.processed == 15, "frames kept being analysed meanwhile"
