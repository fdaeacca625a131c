"""Shared fixtures of the analytics unit tests: synthetic frames, loaded-once models."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtcc.analytics.detectors.plates import PlateDetector


def plate_frame(text: str = "7KX123", *, width: int = 640, height: int = 480) -> np.ndarray:
    """A grey frame with a red car-like box carrying a white plate with black text."""
    frame = np.full((height, width, 3), 90, np.uint8)
    cv2.rectangle(frame, (200, 200), (400, 320), (0, 0, 200), -1)
    cv2.rectangle(frame, (240, 270), (360, 305), (255, 255, 255), -1)
    cv2.putText(frame, text, (246, 298), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    return frame


@pytest.fixture(scope="session")
def plate_detector() -> PlateDetector:
    cv2.setNumThreads(1)
    return PlateDetector()
