"""The demo's street scenes are something the real detectors detect.

Renders camera 0's and camera 1's scenes (natural footage with the composed van) and
runs the real models on frames of them: YOLOv3-tiny finds people and the van, and
RapidOCR reads the van's plate inside the vehicle box, in both driving directions and
on the mirrored footage.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtcc.analytics.detection import ObjectClass
from rtcc.analytics.detectors.factory import object_detector
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.sim.footage import FOOTAGE_FPS
from rtcc.sim.street import _DRIVES, render_street, street_plates

# Renders are keyed by their content, so one cache serves every run (as the demo's).
CACHE = Path(os.environ.get("RTCC_TOOLS") or Path.home() / ".cache" / "rtcc") / "sim"


def frames(path: Path, seconds: list[float]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    out = []
    try:
        for t in seconds:
            capture.set(cv2.CAP_PROP_POS_FRAMES, round(t * FOOTAGE_FPS))
            ok, frame = capture.read()
            assert ok, f"no frame at {t} s"
            out.append(frame)
    finally:
        capture.release()
    return out


@pytest.fixture(scope="module")
def detectors() -> tuple[YoloTinyDetector, PlateDetector]:
    # The service's default object detector (analytics.object_runtime / object_precision
    # auto: OpenVINO INT8 here), as `make run` runs it.
    objects = object_detector()
    plates = PlateDetector()
    assert objects.status().ready and plates.status().ready
    assert objects.runtime == "openvino" and objects.precision == "int8"
    return objects, plates


@pytest.mark.parametrize("index", [0, 1])
def test_people_the_van_and_its_plate_are_detected(
    index: int, detectors: tuple[YoloTinyDetector, PlateDetector]
) -> None:
    objects, ocr = detectors
    scene = render_street(CACHE, index)
    reads: set[str] = set()
    people = vehicles = 0
    for drive, plate in zip(_DRIVES, street_plates(index), strict=True):
        start, end = drive[0], drive[1]
        seconds = [start + (end - start) * k / 12 for k in range(2, 11)]
        for frame in frames(scene.main, seconds):
            found = objects.detect(frame)
            people += sum(d.cls is ObjectClass.PERSON for d in found)
            boxes = [d.box for d in found if d.cls is ObjectClass.VEHICLE]
            vehicles += len(boxes)
            reads |= {str(p.attributes["plate"]) for p in ocr.detect_in(frame, boxes)}
        assert plate in reads, (plate, reads)
    assert people > 0 and vehicles > 0
    sub = frames(scene.sub, [1.0])[0]
    assert sub.shape[:2] == (288, 384)
