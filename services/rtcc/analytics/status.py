"""Detection status of a camera: sampled from its pipeline's counters, stored per camera
so any replica can answer GetDetectorStatus. Pure apart from ``DetectorStatusStore``."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from rtcc.analytics.pipeline import PipelineStats
from rtcc.analytics.tables import detector_status
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.backends.database import Database

# A status not refreshed for this long belongs to a replica that is gone.
STALE_AFTER = timedelta(seconds=30)


@dataclass
class StatusReport:
    camera_id: str
    replica_id: str
    state: int
    detectors: list[int]
    input_fps: float
    processed_fps: float
    latency_ms: float
    dropped_frames: int
    last_error: str
    last_event_time: datetime | None
    update_time: datetime


@dataclass
class _Sample:
    time: datetime
    received: int
    processed: int
    dropped: int


class StatusSampler:
    """Turns successive PipelineStats readings into rates and a state. One per camera."""

    def __init__(self) -> None:
        self._previous: _Sample | None = None

    def report(
        self,
        camera_id: str,
        replica_id: str,
        detectors: list[int],
        stats: PipelineStats | None,
        last_error: str,
        now: datetime,
    ) -> StatusReport:
        if stats is None:
            state = pb.DETECTOR_STATE_ERROR if last_error else pb.DETECTOR_STATE_STARTING
            return StatusReport(
                camera_id, replica_id, state, detectors, 0, 0, 0, 0, last_error, None, now
            )
        sample = _Sample(now, stats.received, stats.processed, stats.dropped)
        previous, self._previous = self._previous, sample
        input_fps = processed_fps = 0.0
        newly_dropped = 0
        if previous is not None and now > previous.time:
            seconds = (now - previous.time).total_seconds()
            input_fps = (sample.received - previous.received) / seconds
            processed_fps = (sample.processed - previous.processed) / seconds
            newly_dropped = sample.dropped - previous.dropped
        latency = statistics.median(stats.latencies) * 1000 if stats.latencies else 0.0
        state = pb.DETECTOR_STATE_DEGRADED if newly_dropped else pb.DETECTOR_STATE_RUNNING
        if previous is not None and sample.received == previous.received:
            state = pb.DETECTOR_STATE_STARTING  # no frames from ingest since last time
        return StatusReport(
            camera_id=camera_id,
            replica_id=replica_id,
            state=state,
            detectors=detectors,
            input_fps=round(input_fps, 2),
            processed_fps=round(processed_fps, 2),
            latency_ms=round(latency, 1),
            dropped_frames=stats.dropped,
            last_error=last_error,
            last_event_time=stats.last_event_time,
            update_time=now,
        )


def to_message(
    report: StatusReport | None, camera_id: str, enabled: bool, now: datetime
) -> pb.DetectorStatus:
    """The API's view: disabled, starting (no fresh report), or the replica's report."""
    if not enabled:
        return pb.DetectorStatus(camera_id=camera_id, state=pb.DETECTOR_STATE_DISABLED)
    if report is None or now - report.update_time > STALE_AFTER:
        last_error = report.last_error if report else ""
        return pb.DetectorStatus(
            camera_id=camera_id, state=pb.DETECTOR_STATE_STARTING, last_error=last_error
        )
    message = pb.DetectorStatus(
        camera_id=camera_id,
        state=report.state,  # type: ignore[arg-type]
        replica_id=report.replica_id,
        detectors=report.detectors,  # type: ignore[arg-type]
        input_fps=report.input_fps,
        processed_fps=report.processed_fps,
        dropped_frames=report.dropped_frames,
        last_error=report.last_error,
    )
    message.latency.FromTimedelta(timedelta(milliseconds=report.latency_ms))
    message.update_time.FromDatetime(report.update_time)
    if report.last_event_time is not None:
        message.last_event_time.FromDatetime(report.last_event_time)
    return message


class DetectorStatusStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, report: StatusReport) -> None:
        values = dict(report.__dict__)
        c = detector_status.c
        async with self._db.transaction() as conn:
            await conn.execute(detector_status.delete().where(c.camera_id == report.camera_id))
            await conn.execute(detector_status.insert().values(**values))

    async def get_many(self, camera_ids: list[str]) -> dict[str, StatusReport]:
        if not camera_ids:
            return {}
        query = sa.select(detector_status).where(detector_status.c.camera_id.in_(camera_ids))
        async with self._db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return {row.camera_id: StatusReport(**dict(row._mapping)) for row in rows}
