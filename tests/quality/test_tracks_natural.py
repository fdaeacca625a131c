"""Reduced natural-footage harness (bench/analytics_tracks.py is the full one).

The first 40 s of vtest.avi (real people on a campus road, 5 fps, 200 frames) through
YOLOv3-tiny at the service's setting (and on cv2.dnn, the reference), then the tracker
with and without re-association, scored against the hand-reviewed truth with
py-motmetrics/TrackEval. Thresholds sit a little below what was measured
(docs/investigations.md), so a change that makes tracks worse fails here. The footage
must be installed (infra/install-footage.sh, run by `make venv`): missing footage
fails, never skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rtcc.analytics import quality
from rtcc.analytics.detectors.factory import object_detector
from rtcc.analytics.detectors.objects import YoloTinyDetector

LAST_FRAME = 398  # source frames 0..398 (40 s), even frames only


# The service's setting (OpenVINO, INT8 where installed: the defaults of
# analytics.object_runtime / object_precision) and cv2.dnn's reference run.
DETECTORS = {
    "service": object_detector,
    "cv2.dnn": YoloTinyDetector,
}


@pytest.fixture(scope="module", params=list(DETECTORS))
def detected(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[quality.FrameDetections]:
    cache = Path(tmp_path_factory.mktemp("quality"))
    name = str(request.param)
    return quality.cached_detect(
        f"test-yolo-416-{name}", DETECTORS[name], cache, last_frame=LAST_FRAME
    )


@pytest.fixture(scope="module")
def truth() -> quality.Truth:
    return quality.load_truth(last_frame=LAST_FRAME)


def test_the_truth_covers_the_clip(truth: quality.Truth) -> None:
    people = {i for boxes in truth.values() for i in boxes}
    assert len(truth) >= 190  # almost every analysed frame has someone in it
    assert 20 <= len(people) <= 40


def test_people_are_detected_on_natural_footage(
    detected: list[quality.FrameDetections], truth: quality.Truth
) -> None:
    precision, recall = quality.detection_scores(detected, truth)
    assert precision >= 0.75, precision
    assert recall >= 0.72, recall


def test_reassociation_beats_iou_only_tracking(
    detected: list[quality.FrameDetections], truth: quality.Truth
) -> None:
    before = quality.track_scores(
        quality.track(quality.baseline_tracker, detected, looks=False), truth
    )
    after = quality.track_scores(
        quality.track(quality.reassociating_tracker, detected, looks=True), truth
    )
    assert after["IDF1"] >= 0.6, after
    assert after["IDF1"] >= before["IDF1"] + 0.05, (before, after)
    assert after["tracks per person"] <= 1.65, after
    assert after["tracks per person"] < before["tracks per person"], (before, after)
    assert after["MOTA"] >= 0.45, after
    assert 0.3 <= after["HOTA"] <= 1.0, after


def test_duplicate_boxes_do_not_split_people_into_more_tracks(
    detected: list[quality.FrameDetections], truth: quality.Truth
) -> None:
    without = quality.track_scores(
        quality.track(lambda: quality.reassociating_tracker(duplicate_iou=1.0), detected), truth
    )
    with_rule = quality.track_scores(quality.track(quality.reassociating_tracker, detected), truth)
    assert with_rule["tracks per person"] <= without["tracks per person"] - 0.08, (
        without,
        with_rule,
    )
    assert with_rule["IDF1"] >= without["IDF1"] - 0.01, (without, with_rule)
    assert with_rule["MOTA"] >= without["MOTA"] - 0.01, (without, with_rule)
