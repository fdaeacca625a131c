"""Models shared by a process's cameras: one instance per concurrent call, at most N."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rtcc.analytics.detection import READY, Detection, DetectorHealth, Frame
from rtcc.analytics.detectors.factory import build_detectors
from rtcc.analytics.detectors.shared import SharedDetector
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.core.config import AnalyticsSettings

FRAME = np.zeros((36, 64, 3), np.uint8)


class _Slow:
    """Counts how many calls run inside it at once (a net must never see two)."""

    name = "slow"
    made = 0

    def __init__(self, entered: threading.Barrier | None) -> None:
        type(self).made += 1
        self._entered, self.inside, self.most = entered, 0, 0
        self._lock = threading.Lock()

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        if self._entered is not None:
            self._entered.wait(timeout=10)  # hold until every caller is inside one
        with self._lock:
            self.inside -= 1
        return []


def test_concurrent_calls_get_instances_of_their_own_up_to_the_pool_size() -> None:
    _Slow.made = 0
    entered = threading.Barrier(3)
    made: list[_Slow] = []

    def build() -> _Slow:
        made.append(_Slow(entered))
        return made[-1]

    pool = SharedDetector(build, size=3)
    with ThreadPoolExecutor(3) as threads:
        list(threads.map(lambda _: pool.detect(FRAME), range(3)))
    assert len(made) == 3 and all(d.most == 1 for d in made)  # three at once, one each

    entered.reset()
    with ThreadPoolExecutor(6) as threads:  # more callers than instances: they wait
        list(threads.map(lambda _: pool.detect(FRAME), range(6)))
    assert len(made) == 3 and pool.instances == 3 and all(d.most == 1 for d in made)


def test_a_pool_of_one_serialises_callers_on_one_instance() -> None:
    made: list[_Slow] = []

    def build() -> _Slow:
        made.append(_Slow(None))
        return made[-1]

    pool = SharedDetector(build, size=1)
    with ThreadPoolExecutor(4) as threads:
        list(threads.map(lambda _: pool.detect(FRAME), range(40)))
    assert len(made) == 1 and made[0].most == 1


def test_cameras_of_one_process_share_the_models_but_not_motion() -> None:
    settings = AnalyticsSettings(model_instances=2)
    config = pb.DetectorConfig(detectors=[pb.DETECTOR_TYPE_OBJECT])
    first = build_detectors(pb.DetectorConfig(camera_id="cam_a", **_same(config)), settings)
    second = build_detectors(pb.DetectorConfig(camera_id="cam_b", **_same(config)), settings)
    assert first.objects is second.objects and first.objects is not None
    assert first.objects.status().ready
    assert first.motion is not second.motion
    assert first.gate is not second.gate


def _same(config: pb.DetectorConfig) -> dict[str, object]:
    return {"detectors": list(config.detectors)}
