"""Motion by background subtraction: cheap, and used to skip idle frames."""

from __future__ import annotations

import cv2
import numpy as np

from rtcc.analytics.detection import READY, Detection, DetectorHealth, Frame, ObjectClass

_WORK_WIDTH = 320


class MotionDetector:
    """MOG2 on a downscaled grey frame; reports moving blobs as MOTION detections.

    Stateful (it learns the background), so one instance per camera. A change of
    resolution resets the model rather than failing.
    """

    name = "motion"

    def __init__(self, *, min_area_fraction: float = 0.002, history: int = 200) -> None:
        self._min_area_fraction = min_area_fraction
        self._history = history
        self._shape: tuple[int, int] | None = None
        self._model = self._new_model()

    def _new_model(self) -> cv2.BackgroundSubtractorMOG2:
        return cv2.createBackgroundSubtractorMOG2(
            history=self._history, varThreshold=25, detectShadows=False
        )

    def _learn(self, frame: Frame) -> None:
        self._model.apply(self._prepare(frame)[0])

    def _prepare(self, frame: Frame) -> tuple[np.ndarray, float]:
        scale = min(1.0, _WORK_WIDTH / frame.shape[1])
        # Grey first: the area resize then works on one plane (0.9 + 0.1 ms instead of
        # 2.1 ms at 768x576; the result differs by at most one grey level).
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (5, 5), 0), scale

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        height, width = frame.shape[:2]
        if self._shape != (height, width):
            self._shape = (height, width)
            self._model = self._new_model()
            self._learn(frame)
            return []  # the first frame only teaches the background
        grey, scale = self._prepare(frame)
        mask = self._model.apply(grey)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_area = self._min_area_fraction * grey.shape[0] * grey.shape[1]
        found: list[Detection] = []
        for contour in contours:
            if cv2.contourArea(contour) < min_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
            found.append(Detection(ObjectClass.MOTION, 1.0, box))
        return found
