"""Synthetic scenes drawn with cv2: moving coloured rectangles, vehicles with plates.

``BlobDetector`` stands in for the neural detector on these drawings (YOLO does not
see rectangles as cars): it implements the same Detector protocol, so everything
after detection — masks, tracker, rules, plates, events — runs for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from rtcc.analytics.detection import READY, Detection, DetectorHealth, Frame, ObjectClass

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WIDTH, HEIGHT = 640, 360


@dataclass(frozen=True)
class Mover:
    kind: ObjectClass
    bgr: tuple[int, int, int]
    start: tuple[float, float]
    velocity: tuple[float, float]  # pixels per second
    size: tuple[int, int]
    plate: str = ""

    def box(self, t: float) -> tuple[int, int, int, int]:
        x = int(self.start[0] + self.velocity[0] * t)
        y = int(self.start[1] + self.velocity[1] * t)
        return x, y, x + self.size[0], y + self.size[1]


def render(movers: list[Mover], t: float, *, width: int = WIDTH, height: int = HEIGHT) -> Frame:
    frame = np.full((height, width, 3), 70, np.uint8)
    for mover in movers:
        x1, y1, x2, y2 = mover.box(t)
        cv2.rectangle(frame, (x1, y1), (x2, y2), mover.bgr, -1)
        if mover.plate:
            px, py = (x1 + x2) // 2 - 60, y2 - 40
            cv2.rectangle(frame, (px, py), (px + 120, py + 32), (255, 255, 255), -1)
            cv2.putText(
                frame, mover.plate, (px + 6, py + 25), cv2.FONT_HERSHEY_SIMPLEX, 0.75, (0, 0, 0), 2
            )
    return frame


def frames(movers: list[Mover], seconds: float, fps: float = 5.0) -> list[tuple[datetime, Frame]]:
    count = int(seconds * fps)
    return [(T0 + timedelta(seconds=i / fps), render(movers, i / fps)) for i in range(count)]


class BlobDetector:
    """Saturated blobs: wider than tall is a vehicle (a car), else a person."""

    name = "synthetic-blobs"

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
        mask = (hsv[..., 1] > 100).astype(np.uint8) * 255
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < 400:
                continue
            vehicle = w > h
            cls = ObjectClass.VEHICLE if vehicle else ObjectClass.PERSON
            attributes = {"vehicle_type": "car"} if vehicle else {}
            found.append(Detection(cls, 0.9, (x, y, x + w, y + h), attributes))
        return found


class UnavailableDetector:
    name = "broken"

    def status(self) -> DetectorHealth:
        from rtcc.analytics.detection import unavailable

        return unavailable("model file missing")

    def detect(self, frame: Frame) -> list[Detection]:
        return []
