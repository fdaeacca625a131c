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
        backend, target = place.dnn_backend, place.dnn_target
        providers = place.onnx_providers
        runtime = runtimes.resolve(
            settings.object_runtime, cuda=place.onnx_cuda, dnn_cuda=place.name == "cuda"
        )
        precision = settings.object_precision
        device = "CPU"
        if runtime == "openvino":
            device = runtimes.openvino_device(
                settings.execution_provider, runtimes.openvino_devices()
            )
        if settings.object_runtime not in ("auto", runtime):
            log.warning(
                "analytics_object_runtime_fallback",
                asked=settings.object_runtime,
                using=runtime,
                reason=f"{settings.object_runtime} is not installed",
            )

        def yolo(size: int) -> SharedDetector:
            return shared(
                ("yolo", size, runtime, precision, device, backend, target, providers),
                lambda: YoloTinyDetector(
                    input_size=size, backend=backend, target=target, runtime=runtime,
                    providers=providers, precision=precision, device=device,
                ),
                n,
            )  # fmt: skip

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
