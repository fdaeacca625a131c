"""Build a camera's detectors from its configuration. Motion (per-camera background
state) and the gate are the camera's own; the models are the process's, shared by all
its cameras through a pool (detectors/shared.py: an instance per concurrent call, at
most ``analytics.model_instances``), so memory grows with cores, not with cameras."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from rtcc.analytics import accelerator
from rtcc.analytics.analysis import DetectorSet
from rtcc.analytics.detection import Detector
from rtcc.analytics.detectors import runtimes
from rtcc.analytics.detectors.faces import FaceDetector
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.detectors.shared import SharedDetector
from rtcc.analytics.gating import DetectionGate
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.core.config import AnalyticsSettings

log = structlog.get_logger("rtcc.analytics.detectors")

_shared: dict[tuple[Any, ...], SharedDetector] = {}
_shared_lock = threading.Lock()


def shared(key: tuple[Any, ...], build: Callable[[], Any], size: int) -> SharedDetector:
    """The process's pool for `key` (the model and how it was built), made once."""
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None:
            pool = _shared[key] = SharedDetector(build, size)
        return pool


def object_detector_options(
    settings: AnalyticsSettings, place: accelerator.Placement | None = None
) -> dict[str, Any]:
    """How the service builds YOLOv3-tiny for `settings`: runtime, precision, OpenVINO
    device, cv2.dnn backend/target and ONNX Runtime providers (from `place`, the
    accelerator placement; this machine's for the settings when not given)."""
    place = place or accelerator.placement(settings.execution_provider)
    runtime = runtimes.resolve(
        settings.object_runtime, cuda=place.onnx_cuda, dnn_cuda=place.name == "cuda"
    )
    device = "CPU"
    if runtime == "openvino":
        device = runtimes.openvino_device(settings.execution_provider, runtimes.openvino_devices())
    return {
        "runtime": runtime,
        "precision": settings.object_precision,
        "device": device,
        "backend": place.dnn_backend,
        "target": place.dnn_target,
        "providers": place.onnx_providers,
    }


def object_detector(
    settings: AnalyticsSettings | None = None, input_size: int | None = None
) -> YoloTinyDetector:
    """YOLOv3-tiny exactly as the service runs it (unshared: benchmarks, harnesses)."""
    settings = settings or AnalyticsSettings()
    return YoloTinyDetector(
        input_size=input_size or settings.input_size, **object_detector_options(settings)
    )


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
    n = settings.model_instances
    detectors = DetectorSet(motion=MotionDetector())
    tiles: list[Detector] = []
    if wanted & {pb.DETECTOR_TYPE_OBJECT, pb.DETECTOR_TYPE_LICENSE_PLATE}:
        # plates are read inside vehicle boxes
        options = object_detector_options(settings, place)
        if settings.object_runtime not in ("auto", options["runtime"]):
            log.warning(
                "analytics_object_runtime_fallback",
                asked=settings.object_runtime,
                using=options["runtime"],
                reason=f"{settings.object_runtime} is not installed",
            )

        def yolo(size: int) -> SharedDetector:
            key = ("yolo", size, *sorted(options.items()))
            return shared(key, lambda: YoloTinyDetector(input_size=size, **options), n)

        detectors.objects = yolo(settings.input_size)
        if settings.region_detection:
            tiles.append(yolo(settings.tile_input))
    if pb.DETECTOR_TYPE_LICENSE_PLATE in wanted:
        cuda = place.onnx_cuda
        detectors.plates = shared(("plates", cuda), lambda: PlateDetector(use_cuda=cuda), n)
    if pb.DETECTOR_TYPE_FACE in wanted:
        detectors.faces = shared(("faces",), FaceDetector, n)
        tiles.append(detectors.faces)
    detectors.gate = DetectionGate(settings, tiles)
    return detectors
