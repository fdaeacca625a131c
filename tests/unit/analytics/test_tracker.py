"""The tracker on synthetic detection sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from rtcc.analytics import appearance
from rtcc.analytics.detection import Detection, ObjectClass
from rtcc.analytics.tracker import ByteTracker

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(i: int, fps: float = 5.0) -> datetime:
    return T0 + timedelta(seconds=i / fps)


def _person(x: float, y: float = 100.0, confidence: float = 0.9) -> Detection:
    return Detection(ObjectClass.PERSON, confidence, (x, y, x + 40, y + 100))


def test_one_object_crossing_makes_one_track_with_its_path() -> None:
    tracker = ByteTracker()
    started = ended = 0
    for i in range(30):
        update = tracker.update([_person(10 + i * 15)], _at(i))
        started += len(update.started)
        ended += len(update.ended)
    for i in range(30, 40):
        ended += len(tracker.update([], _at(i)).ended)
    assert started == 1
    assert ended == 1


def test_two_crossing_objects_keep_their_ids() -> None:
    tracker = ByteTracker()
    ids_left_to_right: set[int] = set()
    ids_right_to_left: set[int] = set()
    for i in range(40):
        a = _person(10 + i * 12, y=100)
        b = _person(490 - i * 12, y=110)
        tracker.update([a, b], _at(i))
        for track in tracker.tracks:
            (ids_left_to_right if track.velocity[0] > 0 else ids_right_to_left).add(track.id)
    assert len(ids_left_to_right) == 1
    assert len(ids_right_to_left) == 1
    assert ids_left_to_right != ids_right_to_left


def test_low_score_detections_keep_an_occluded_track_alive() -> None:
    tracker = ByteTracker()
    for i in range(5):
        tracker.update([_person(10 + i * 10)], _at(i))
    (track,) = tracker.tracks
    for i in range(5, 20):
        tracker.update([_person(10 + i * 10, confidence=0.2)], _at(i))
    for i in range(20, 25):
        tracker.update([_person(10 + i * 10)], _at(i))
    assert [t.id for t in tracker.tracks] == [track.id]


def test_low_score_detections_alone_start_no_track() -> None:
    tracker = ByteTracker()
    for i in range(10):
        tracker.update([_person(10 + i * 10, confidence=0.3)], _at(i))
    assert tracker.tracks == []


def test_classes_never_share_a_track() -> None:
    tracker = ByteTracker()
    for i in range(5):
        tracker.update([_person(100)], _at(i))
    car = Detection(ObjectClass.VEHICLE, 0.9, (100, 100, 140, 200))
    for i in range(5, 8):
        tracker.update([car], _at(i))
    classes = {t.cls for t in tracker.tracks}
    assert ObjectClass.VEHICLE in classes


def test_a_single_spurious_detection_is_never_confirmed() -> None:
    tracker = ByteTracker()
    update = tracker.update([_person(100)], _at(0))
    assert update.started == []
    for i in range(1, 20):
        assert tracker.update([], _at(i)).ended == []


# Re-association with appearances (HSV histograms; see rtcc.analytics.appearance).


def _look(hue: int) -> np.ndarray:
    """The appearance of a box filled with one saturated colour of OpenCV hue ``hue``."""
    patch = np.zeros((80, 40, 3), np.uint8)
    patch[:] = cv2.cvtColor(np.uint8([[[hue, 220, 200]]]), cv2.COLOR_HSV2BGR)[0, 0]
    look = appearance.describe(patch, (0, 0, 40, 80))
    assert look is not None
    return look


RED, BLUE = _look(0), _look(110)


def test_appearance_of_one_colour_is_alike_and_of_two_colours_is_not() -> None:
    assert appearance.distance(RED, RED) < 0.01
    assert appearance.distance(RED, BLUE) > 0.9
    tiny = np.zeros((5, 5, 3), np.uint8)
    assert appearance.describe(tiny, (0, 0, 3, 3)) is None


def test_a_missed_stretch_longer_than_max_age_is_bridged_by_appearance_and_motion() -> None:
    tracker = ByteTracker(max_age_s=0.5, max_lost_s=2.0)
    started = 0
    for i in range(10):
        started += len(tracker.update([_person(10 + i * 10)], _at(i), [RED]).started)
    (track,) = tracker.tracks
    for i in range(10, 16):  # 1.2 s unseen (occluded): longer than max_age_s
        assert tracker.update([], _at(i), []).ended == []
    for i in range(16, 20):
        started += len(tracker.update([_person(10 + i * 10)], _at(i), [RED]).started)
    assert started == 1
    assert [t.id for t in tracker.tracks] == [track.id]
    assert tracker.tracks[0].reassociations >= 1


def test_without_appearances_the_same_gap_makes_a_second_track() -> None:
    tracker = ByteTracker(max_age_s=0.5, max_lost_s=2.0)
    started = 0
    for i in list(range(10)) + list(range(16, 20)):
        started += len(tracker.update([_person(10 + i * 10)], _at(i)).started)
    assert started == 2


def test_someone_else_reappearing_where_a_track_was_lost_gets_a_new_track() -> None:
    tracker = ByteTracker(max_age_s=0.5, max_lost_s=2.0)
    for i in range(10):
        tracker.update([_person(10 + i * 10)], _at(i), [RED])
    (first,) = tracker.tracks
    for i in range(10, 16):
        tracker.update([], _at(i), [])
    started = []
    for i in range(16, 20):
        started += tracker.update([_person(10 + i * 10)], _at(i), [BLUE]).started
    assert [t.id for t in started] != [first.id]
    assert len(started) == 1


def test_two_people_passing_each_other_keep_their_ids_by_appearance() -> None:
    def run(with_looks: bool) -> dict[int, float]:
        tracker = ByteTracker()
        for i in range(10):  # red at x=100, blue at x=125, standing together
            looks = [RED, BLUE] if with_looks else None
            tracker.update([_person(100), _person(125)], _at(i), looks)
        red_id = next(t.id for t in tracker.tracks if t.box[0] == 100)
        # They swap places: each detection now lies best on the other's track.
        if with_looks:
            tracker.update([_person(100), _person(125)], _at(10), [BLUE, RED])
        else:
            tracker.update([_person(100), _person(125)], _at(10))
        return {t.id: t.box[0] for t in tracker.tracks if t.id == red_id}

    assert list(run(with_looks=True).values()) == [125]  # red followed the red person
    assert list(run(with_looks=False).values()) == [100]  # IoU alone swaps identities


def test_looks_must_match_the_detections() -> None:
    tracker = ByteTracker()
    with pytest.raises(ValueError, match="one entry per detection"):
        tracker.update([_person(10)], _at(0), [])


# Duplicate boxes: a second box on an object already followed starts no track.


def _upper_body(x: float, y: float = 100.0, confidence: float = 0.8) -> Detection:
    """A box on the top half of ``_person(x, y)``: IoU 0.5 with it, the same object."""
    return Detection(ObjectClass.PERSON, confidence, (x, y, x + 40, y + 50))


def test_a_second_box_on_a_followed_person_makes_no_second_track() -> None:
    def run(**options: float) -> int:
        tracker = ByteTracker(**options)
        started = 0
        for i in range(20):
            # The detector boxes the whole person every frame and, some frames, the
            # upper body too (a second box NMS kept).
            boxes = [_person(10 + i * 10)] + ([_upper_body(10 + i * 10)] if i % 4 else [])
            started += len(tracker.update(boxes, _at(i)).started)
        return started

    assert run() == 1
    assert run(duplicate_iou=1.0) > 1  # without the rule the upper body is a second track


def _classes_started(tracker: ByteTracker) -> list[str]:
    started = []
    for i in range(10):
        x = 10 + i * 10
        walker = _person(x)
        beside = _person(x + 45)  # touching, not overlapping: someone else
        face = Detection(ObjectClass.FACE, 0.9, (x + 10, 105, x + 30, 125))  # inside walker
        parked = Detection(ObjectClass.VEHICLE, 0.9, (300, 300, 400, 360))
        behind = Detection(ObjectClass.VEHICLE, 0.9, (360, 290, 460, 350))  # IoU 0.25
        # The face and the second vehicle show up once the others are followed.
        later = [face, behind] if i >= 3 else []
        started += tracker.update([walker, beside, parked, *later], _at(i)).started
    return sorted(t.cls.value for t in started)


def test_people_side_by_side_other_classes_and_vehicles_get_their_own_tracks() -> None:
    assert _classes_started(ByteTracker()) == ["face", "person", "person", "vehicle", "vehicle"]
    # Were the rule applied to vehicles, the partly hidden second vehicle would be lost.
    everything = ByteTracker(duplicate_classes=frozenset(ObjectClass))
    assert _classes_started(everything) == ["face", "person", "person", "vehicle"]


def test_a_low_score_box_does_not_keep_a_newcomer_from_being_tracked() -> None:
    tracker = ByteTracker()
    for i in range(5):
        tracker.update([_person(100)], _at(i))
    (first,) = tracker.tracks
    started = []
    for i in range(5, 10):
        # The followed person is only faintly seen now; someone overlapping them a little
        # (IoU 0.18: above duplicate_iou, below match_iou) is seen clearly.
        faint = _person(100, confidence=0.3)
        newcomer = Detection(ObjectClass.PERSON, 0.9, (128, 100, 168, 200))
        started += tracker.update([faint, newcomer], _at(i)).started
    assert len(started) == 1
    assert started[0].id != first.id
    assert started[0].box == (128, 100, 168, 200)
    assert {t.id for t in tracker.tracks} == {first.id, started[0].id}
