"""What every detector returns, and the one interface detectors implement.

Boxes are in pixels of the frame the detector was given, as (x1, y1, x2, y2); the
pipeline normalises them to 0..1 only when it builds events, so that every stage in
between (tracker, rules, colour) works in one coordinate system.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]


class ObjectClass(enum.StrEnum):
    """Classes detectors report; the names match the API's ObjectClass values."""

    PERSON = "person"
    VEHICLE = "vehicle"
    BICYCLE = "bicycle"
    LICENSE_PLATE = "license_plate"
    FACE = "face"
    MOTION = "motion"


@dataclass(frozen=True)
class Detection:
    """One object found in one frame."""

    cls: ObjectClass
    confidence: float
    box: Box
    # Detector-specific facts, e.g. {"vehicle_type": "bus"} or a plate's characters.
    attributes: dict[str, Any] = field(default_factory=dict)


class DetectorState(enum.StrEnum):
    READY = "ready"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class DetectorHealth:
    """Whether a detector can run; ``reason`` says why not, for people."""

    state: DetectorState
    reason: str = ""

    @property
    def ready(self) -> bool:
        return self.state is DetectorState.READY


READY = DetectorHealth(DetectorState.READY)


def unavailable(reason: str) -> DetectorHealth:
    return DetectorHealth(DetectorState.UNAVAILABLE, reason)


@runtime_checkable
class Detector(Protocol):
    """A detector: a pure function of one BGR frame, plus its own health.

    An unavailable detector returns no detections instead of raising, so a camera's
    pipeline goes on with its other detectors.
    """

    @property
    def name(self) -> str: ...

    def status(self) -> DetectorHealth: ...

    def detect(self, frame: Frame) -> list[Detection]: ...


class RegionReader(Detector, Protocol):
    """A detector that can also look only inside given boxes (plates in vehicle boxes)."""

    def detect_in(self, frame: Frame, regions: Sequence[Box]) -> list[Detection]: ...


def box_area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def clip_box(box: Box, width: int, height: int) -> Box:
    return (
        min(max(box[0], 0.0), float(width)),
        min(max(box[1], 0.0), float(height)),
        min(max(box[2], 0.0), float(width)),
        min(max(box[3], 0.0), float(height)),
    )


def valid_frame(frame: Any) -> bool:
    """A BGR uint8 image of at least 16x16 pixels; anything else is a corrupt frame."""
    return (
        isinstance(frame, np.ndarray)
        and frame.dtype == np.uint8
        and frame.ndim == 3
        and frame.shape[2] == 3
        and frame.shape[0] >= 16
        and frame.shape[1] >= 16
    )
