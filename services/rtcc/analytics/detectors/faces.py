"""Faces: libfacedetection (YuNet) compiled into the ``yuface`` package. Detection only."""

from __future__ import annotations

import os
from typing import Any

from rtcc.analytics.detection import (
    READY,
    Detection,
    DetectorHealth,
    Frame,
    ObjectClass,
    clip_box,
    unavailable,
)


class FaceDetector:
    """Faces with yuface; its confidence (0 to 100) is reported as 0 to 1."""

    name = "faces-yuface"

    def __init__(self, *, min_confidence: float = 0.5) -> None:
        self._min_confidence = min_confidence
        self._health = READY
        self._detect: Any = None
        try:
            # libfacedetection is built with OpenMP: left at one thread per core it
            # oversubscribes a shared machine (6x slower at p50 here). One thread, like
            # every detector; must be set before the OpenMP runtime starts.
            os.environ.setdefault("OMP_NUM_THREADS", "1")
            import yuface

            self._detect = yuface.detect
        except (ImportError, OSError) as exc:
            self._health = unavailable(f"yuface could not be loaded: {exc} (pip install yuface)")

    def status(self) -> DetectorHealth:
        return self._health

    def detect(self, frame: Frame) -> list[Detection]:
        if self._detect is None:
            return []
        height, width = frame.shape[:2]
        confidences, boxes, _ = self._detect(frame, conf=self._min_confidence)
        found: list[Detection] = []
        for confidence, (x, y, w, h) in zip(confidences, boxes, strict=False):
            box = clip_box((float(x), float(y), float(x + w), float(y + h)), width, height)
            found.append(Detection(ObjectClass.FACE, min(1.0, float(confidence) / 100.0), box))
        return found
