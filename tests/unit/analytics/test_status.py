"""Detection status: rates and states from pipeline counters, and the API's view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rtcc.analytics.pipeline import PipelineStats
from rtcc.analytics.status import StatusSampler, to_message
from rtcc.analytics.v1 import analytics_pb2 as pb

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_rates_come_from_successive_samples_and_drops_degrade() -> None:
    sampler, stats = StatusSampler(), PipelineStats()
    sampler.report("cam", "r1", [1], stats, "", T0)
    stats.received, stats.processed = 50, 50
    stats.latencies.extend([0.2, 0.3, 0.4])
    report = sampler.report("cam", "r1", [1], stats, "", T0 + timedelta(seconds=10))
    assert (report.state, report.input_fps, report.processed_fps) == (
        pb.DETECTOR_STATE_RUNNING, 5.0, 5.0,
    )  # fmt: skip
    assert report.latency_ms == 300.0
    stats.received, stats.processed, stats.dropped = 100, 80, 20
    report = sampler.report("cam", "r1", [1], stats, "", T0 + timedelta(seconds=20))
    assert report.state == pb.DETECTOR_STATE_DEGRADED and report.dropped_frames == 20
    report = sampler.report("cam", "r1", [1], stats, "", T0 + timedelta(seconds=30))
    assert report.state == pb.DETECTOR_STATE_STARTING  # no frames came in


def test_a_camera_without_pipeline_and_with_an_error_is_in_error() -> None:
    report = StatusSampler().report("cam", "r1", [1], None, "analysis stopped: boom", T0)
    assert report.state == pb.DETECTOR_STATE_ERROR


def test_api_view_is_disabled_starting_or_the_fresh_report() -> None:
    report = StatusSampler().report("cam", "r1", [1], PipelineStats(), "", T0)
    assert to_message(report, "cam", False, T0).state == pb.DETECTOR_STATE_DISABLED
    assert to_message(None, "cam", True, T0).state == pb.DETECTOR_STATE_STARTING
    stale = to_message(report, "cam", True, T0 + timedelta(minutes=5))
    assert stale.state == pb.DETECTOR_STATE_STARTING
    fresh = to_message(report, "cam", True, T0 + timedelta(seconds=5))
    assert fresh.state == pb.DETECTOR_STATE_RUNNING and fresh.replica_id == "r1"
