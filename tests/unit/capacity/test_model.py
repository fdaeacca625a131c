"""The capacity model: figures from BENCHMARKS.md turned into a plan; bad input refused."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from rtcc.capacity import model
from rtcc.capacity.model import Demand, PlanError, parse_bitrate, parse_retention, plan
from rtcc.cli import main

GANGNEUNG = Demand(cameras=1000, bitrate_bps=2e6, retention_days=30, analytics_share=0.2)


@pytest.mark.parametrize(
    ("text", "bps"), [("2M", 2e6), ("500k", 5e5), ("2.5Mbit/s", 2.5e6), ("1g", 1e9)]
)
def test_bitrates_are_read_with_their_unit(text: str, bps: float) -> None:
    assert parse_bitrate(text) == bps


@pytest.mark.parametrize(("text", "days"), [("30d", 30), ("12h", 0.5), ("2w", 14), ("45", 45)])
def test_retention_is_read_in_days(text: str, days: float) -> None:
    assert parse_retention(text) == days


def test_storage_is_bitrate_times_retention_times_cameras() -> None:
    result = plan(GANGNEUNG)
    expected = 1000 * 2e6 / 8 * 30 * 86400 / 2**40
    assert result.storage_tib == pytest.approx(expected)
    assert 585 < result.storage_tib < 595  # ~589 TiB for Gangneung at 2 Mbit/s, 30 days


def test_recording_and_analytics_cores_follow_the_measured_costs() -> None:
    result = plan(GANGNEUNG)
    ingest, analytics = result.target("ingest"), result.target("analytics")
    per_camera = model.record_cores(2e6)
    assert ingest.cores == pytest.approx(
        1000 * per_camera + ingest.replicas * model.INGEST_REPLICA_CORES
    )
    per_frame = max(
        model.ANALYTICS_CORE_S_PER_FRAME,
        model.ANALYTICS_BUSY_CORE_S_PER_FRAME,
        1 / model.DETECT_FPS_PER_CORE + 1 / model.MOTION_FPS_PER_CORE,
    )
    assert analytics.cores == pytest.approx(200 * 5 * per_frame)
    # Replicas leave 30 % headroom on 2-core pods (less each ingest pod's own work),
    # and never fewer than two.
    usable = 2 * 0.7 - model.INGEST_REPLICA_CORES
    assert ingest.replicas == math.ceil(1000 * per_camera / usable)
    assert analytics.replicas == math.ceil(analytics.cores / (2 * 0.7))
    assert result.target("registry").replicas == 2


def test_memory_counts_process_bases_and_each_camera() -> None:
    result = plan(GANGNEUNG)
    ingest, analytics = result.target("ingest"), result.target("analytics")
    expected = ingest.replicas * model.PROCESS_BASE_MIB + 1000 * model.RECORD_MIB_PER_STREAM
    assert ingest.memory_gib == pytest.approx(expected / 1024)
    per_replica = model.PROCESS_BASE_MIB + (
        model.ANALYTICS_MODEL_INSTANCES * model.ANALYTICS_MODEL_SET_MIB
    )
    expected = analytics.replicas * per_replica + 200 * model.ANALYTICS_MIB_PER_CAMERA
    assert analytics.memory_gib == pytest.approx(expected / 1024)


def test_no_analytics_means_no_analytics_replicas_and_no_frame_traffic() -> None:
    result = plan(Demand(cameras=50, bitrate_bps=1e6, retention_days=7, analytics_share=0))
    assert result.target("analytics").replicas == 0
    assert result.network_mbps["ingest -> analytics (BGR24 frames)"] == 0
    assert result.network_mbps["cameras -> ingest"] == pytest.approx(50)


def test_a_higher_bitrate_costs_more_per_byte_never_less_than_measured() -> None:
    assert model.record_cores(0.5e6) == model.RECORD_CORES_PER_STREAM
    assert model.record_cores(model.RECORD_MEASURED_BITRATE) == model.RECORD_CORES_PER_STREAM
    step = model.record_cores(model.RECORD_MEASURED_BITRATE + 1e6) - model.RECORD_CORES_PER_STREAM
    assert step == pytest.approx(model.RECORD_CORES_PER_MBIT)
    low = plan(Demand(cameras=100, bitrate_bps=1e6, retention_days=1, analytics_share=0))
    high = plan(Demand(cameras=100, bitrate_bps=8e6, retention_days=1, analytics_share=0))
    assert high.target("ingest").cores > low.target("ingest").cores


@pytest.mark.parametrize(
    ("demand", "names"),
    [
        (Demand(0, 2e6, 30, 0.2), "--cameras"),
        (Demand(1000, 2e6, 30, 1.5), "--analytics-share"),
        (Demand(1000, 2e6, 30, -0.1), "--analytics-share"),
        (Demand(1000, 0, 30, 0.2), "--bitrate"),
        (Demand(1000, 2e9, 30, 0.2), "--bitrate"),
        (Demand(1000, 2e6, 0, 0.2), "--retention"),
        (Demand(1000, 2e6, 30, 0.2, cores_per_pod=0.1), "--cores-per-pod"),
    ],
)
def test_impossible_numbers_are_refused_naming_the_flag(demand: Demand, names: str) -> None:
    with pytest.raises(PlanError, match=names):
        plan(demand)


def test_the_command_prints_the_plan_and_writes_helm_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "city.yaml"
    argv = ["plan", "--cameras", "1000", "--bitrate", "2M", "--retention", "30d"]
    code = main([*argv, "--analytics-share", "0.2", "--helm-values", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "TiB" in printed and "ingest" in printed and "Mbit/s" in printed
    values = yaml.safe_load(out.read_text())
    assert values["ingest"]["replicas"] == plan(GANGNEUNG).target("ingest").replicas
    assert values["ingest"]["persistence"]["size"].endswith("Gi")


@pytest.mark.parametrize(
    "bad",
    [
        ["--cameras", "1000", "--bitrate", "fast", "--retention", "30d"],
        ["--cameras", "1000", "--bitrate", "2M", "--retention", "forever"],
        ["--cameras", "-5", "--bitrate", "2M", "--retention", "30d"],
        ["--cameras", "10", "--bitrate", "2M", "--retention", "30d", "--analytics-share", "2"],
    ],
)
def test_the_command_exits_2_with_a_sentence_on_impossible_input(
    bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", *bad]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "Traceback" not in error
