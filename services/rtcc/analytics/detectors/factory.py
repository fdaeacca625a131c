"""Build a camera's detectors from its configuration; each camera gets its own instances
(motion keeps per-camera state; nets are not shared across worker threads)."""

from __future__ import annotations

from rtcc.analytics.analysis import DetectorSet
from rtcc.analytics.detectors.faces import FaceDetector
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.v1 import analytics_pb2 as pb


def build_detectors(config: pb.DetectorConfig) -> DetectorSet:
    """Blocking (models load from disk): call it in a thread."""
    wanted = set(config.detectors) or {pb.DETECTOR_TYPE_OBJECT}
    detectors = DetectorSet(motion=MotionDetector())
    if wanted & {pb.DETECTOR_TYPE_OBJECT, pb.DETECTOR_TYPE_LICENSE_PLATE}:
        detectors.objects = YoloTinyDetector()  # plates are read inside vehicle boxes
    if pb.DETECTOR_TYPE_LICENSE_PLATE in wanted:
        detectors.plates = PlateDetector()
    if pb.DETECTOR_TYPE_FACE in wanted:
        detectors.faces = FaceDetector()
    return detectors
