"""The tracker on synthetic detection sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
