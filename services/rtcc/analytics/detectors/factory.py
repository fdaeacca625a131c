"""Build a camera's detectors from its configuration; each camera gets its own instances
(motion keeps per-camera state; nets are not shared across worker threads)."""

from __future__ import annotations

import structlog

from rtcc.analytics import accelerator
from rtcc.analytics.analysis import DetectorSet
from rtcc.analytics.detection import Detector
from rtcc.analytics.detectors.faces import FaceDetector
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.gating import DetectionGate
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.core.config import AnalyticsSettings

log = structlog.get_logger("rtcc.analytics.detectors")


def build_detectors(
    config: pb.DetectorConfig, settings: AnalyticsSettings | None = None
) -> DetectorSet:
    """Blocking (models load from disk): call it in a thread. ``settings``: the process's
    ``analytics`` section (region detection, rate, execution provider)."""
    settings = settings or AnalyticsSettings()
    place = accelerator.placement(settings.execution_provider)
    if place.reason:
        log.warning("analytics_accelerator_fallback", reason=place.reason)
    wanted = set(config.detectors) or {pb.DETECTOR_TYPE_OBJECT}
    detectors = DetectorSet(motion=MotionDetector())
    tiles: list[Detector] = []
    if wanted & {pb.DETECTOR_TYPE_OBJECT, pb.DETECTOR_TYPE_LICENSE_PLATE}:
        # plates are read inside vehicle boxes
        backend, target = place.dnn_backend, place.dnn_target
        detectors.objects = YoloTinyDetector(
            input_size=settings.input_size, backend=backend, target=target
        )
        if settings.region_detection:
            tiles.append(
                YoloTinyDetector(input_size=settings.tile_input, backend=backend, target=target)
            )
    if pb.DETECTOR_TYPE_LICENSE_PLATE in wanted:
        detectors.plates = PlateDetector(use_cuda=place.onnx_cuda)
    if pb.DETECTOR_TYPE_FACE in wanted:
        detectors.faces = FaceDetector()
        tiles.append(detectors.faces)
    detectors.gate = DetectionGate(settings, tiles)
    return detectors
