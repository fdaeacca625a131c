"""A camera's analysis end to end on synthetic frames: tracks, rules, plates, masks."""

from __future__ import annotations

import cv2
import numpy as np

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import READY, Detection, DetectorHealth, Frame, ObjectClass
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.events import DetectedEvent
from rtcc.analytics.records import COLOR_CODES, EVENT_TYPE_CODES
from rtcc.analytics.rules import Direction, Line, Zone

from .synthetic import BlobDetector, Mover, UnavailableDetector, frames

RED_CAR = Mover(ObjectClass.VEHICLE, (0, 0, 200), (20, 150), (100, 0), (200, 110), "7KX123")
BLUE_PERSON = Mover(ObjectClass.PERSON, (200, 60, 0), (600, 40), (-60, 0), (30, 80))
RIGHT_HALF = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))
CENTRE_LINE = Line("lin_c", (0.5, 0.0), (0.5, 1.0))


def _run(setup: CameraSetup, detectors: DetectorSet, movers: list[Mover], seconds: float = 4.0):
    analyser = CameraAnalyser(setup, detectors)
    events: list[DetectedEvent] = []
    for time, frame in frames(movers, seconds):
        events += analyser.process(time, frame)
    return events + analyser.finish(), analyser


def _types(events: list[DetectedEvent]) -> list[int]:
    return [e.event.type for e in events]


def test_a_car_crossing_makes_one_track_with_rules_and_a_plate_read(
    plate_detector: PlateDetector,
) -> None:
    setup = CameraSetup("cam_1", "org_1", zones=(Zone("zon_r", RIGHT_HALF),), lines=(CENTRE_LINE,))
    detectors = DetectorSet(objects=BlobDetector(), plates=plate_detector)
    events, _ = _run(setup, detectors, [RED_CAR])
    appeared = [e for e in events if e.event.type == EVENT_TYPE_CODES["object_appeared"]]
    assert len(appeared) == 1
    assert appeared[0].event.primary_color == COLOR_CODES["red"]
    assert appeared[0].event.vehicle_type == 1
    assert appeared[0].snapshot_jpeg.startswith(b"\xff\xd8")
    assert len({e.event.track_id for e in events}) == 1
    crossed = [e for e in events if e.event.type == EVENT_TYPE_CODES["line_crossed"]]
    assert [e.event.crossing_direction for e in crossed] == [3]  # right-to-left of a down line
    assert _types(events).count(EVENT_TYPE_CODES["zone_entered"]) == 1
    assert _types(events).count(EVENT_TYPE_CODES["zone_exited"]) == 1
    reads = [e.plate_read for e in events if e.plate_read is not None]
    assert [r.plate for r in reads] == ["7KX123"]
    assert len(reads[0].characters) == 6
    assert reads[0].event_id in {e.event.id for e in events}


def test_nothing_is_reported_inside_a_privacy_mask() -> None:
    top_strip = ((0.0, 0.0), (1.0, 0.0), (1.0, 0.4), (0.0, 0.4))
    setup = CameraSetup("cam_1", "org_1", masks=(top_strip,))
    events, _ = _run(setup, DetectorSet(objects=BlobDetector()), [BLUE_PERSON, RED_CAR])
    classes = {e.event.object_class for e in events}
    assert classes == {2}  # the car only; the person walks inside the mask


def test_events_carry_normalised_boxes_and_direction() -> None:
    line = Line("lin_c", (0.5, 0.0), (0.5, 1.0), Direction.RIGHT_TO_LEFT)
    events, _ = _run(
        CameraSetup("c", "o", lines=(line,)), DetectorSet(objects=BlobDetector()), [RED_CAR]
    )
    (crossed,) = [e for e in events if e.event.line_id == "lin_c"]
    x, y, w, h = crossed.event.box
    assert 0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 and 0 < h <= 1


def test_corrupt_frames_and_a_resolution_change_do_not_stop_analysis() -> None:
    analyser = CameraAnalyser(CameraSetup("c", "o"), DetectorSet(objects=BlobDetector()))
    sequence = frames([RED_CAR], 2.0)
    events = []
    for i, (time, frame) in enumerate(sequence):
        if i == 3:
            events += analyser.process(time, np.zeros((4, 4), np.uint8))
        if i == 6:
            frame = np.ascontiguousarray(frame[::2, ::2])
        events += analyser.process(time, frame)
    assert analyser.stats.corrupt == 1
    assert analyser.stats.resolution_changes == 2  # down and back up
    assert analyser.stats.frames == len(sequence)


def test_an_unavailable_detector_is_skipped_while_others_run() -> None:
    detectors = DetectorSet(objects=BlobDetector(), faces=UnavailableDetector())
    events, _ = _run(CameraSetup("c", "o"), detectors, [RED_CAR], seconds=2.0)
    assert EVENT_TYPE_CODES["object_appeared"] in _types(events)


def test_motion_skips_idle_frames() -> None:
    detectors = DetectorSet(motion=MotionDetector(), objects=BlobDetector())
    still = Mover(ObjectClass.PERSON, (200, 60, 0), (100, 100), (0, 0), (30, 80))
    _, analyser = _run(CameraSetup("c", "o"), detectors, [], seconds=2.0)
    assert analyser.stats.idle_skipped >= 8
    assert still.box(0)[0] == 100


class _FixedFace:
    """A face always at the same place."""

    name = "fixed-face"

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        return [Detection(ObjectClass.FACE, 0.9, (100, 100, 160, 160))]


def _face_snapshot(redact: bool) -> np.ndarray:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    analyser = CameraAnalyser(
        CameraSetup("c", "o", redact_faces=redact), DetectorSet(faces=_FixedFace())
    )
    events = []
    for time, _ in frames([], 1.0):
        events += analyser.process(time, frame)
    (face,) = [e for e in events if e.event.type == EVENT_TYPE_CODES["face_detected"]]
    image = cv2.imdecode(np.frombuffer(face.snapshot_jpeg, np.uint8), cv2.IMREAD_COLOR)
    return image[105:155, 105:155]


def test_faces_are_blurred_in_snapshots_when_redaction_is_on() -> None:
    assert _face_snapshot(redact=True).std() < 0.3 * _face_snapshot(redact=False).std()
