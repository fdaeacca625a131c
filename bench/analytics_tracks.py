"""Person detection and tracking quality on natural footage, per detector and tracker.

vtest.avi (OpenCV sample, Debian opencv-doc; 768x576, 79.5 s, people on a campus road)
at 5 fps against the hand-reviewed truth bench/data/vtest-truth.txt (50 people; how it
was made: bench/data/annotate_vtest.py, docs/investigations.md). Detection precision/recall
at IoU >= 0.5; MOTA, IDF1, ID switches by py-motmetrics; HOTA by TrackEval; tracks per
person = distinct track ids matched to one true person, even for one frame, averaged over
the people matched at all (goal <= 1.2). Tracker CPU time per frame is printed too
(the replay of cached detections and appearances only; detection not included). Detections are
cached under var/quality (first run: ~1 min per detector setting on 2 cores).

    .venv/bin/python bench/analytics_tracks.py
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2

from rtcc.analytics import quality
from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import READY, Detection, DetectorHealth, Frame
from rtcc.analytics.detectors.factory import object_detector
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.records import CLASS_CODES, EVENT_TYPE_CODES

CACHE = Path("var/quality")


DETECTORS = {
    "YOLOv3-tiny 416, OpenVINO INT8 (service)": ("yolov3-tiny-416-0.35-ov-int8", object_detector),
    "YOLOv3-tiny 416, cv2.dnn": ("yolov3-tiny-416-0.35", lambda: YoloTinyDetector()),
    "YOLOv3-tiny 320, cv2.dnn": ("yolov3-tiny-320-0.35", lambda: YoloTinyDetector(input_size=320)),
}
TRACKERS = {
    "IoU only": (quality.baseline_tracker, False),
    "re-association, no duplicate rule (before)": (
        lambda: quality.reassociating_tracker(duplicate_iou=1.0),
        True,
    ),
    "re-association + duplicate rule": (quality.reassociating_tracker, True),
}
COLUMNS = ["P", "R", "MOTA", "IDF1", "HOTA", "ID switches", "tracks per person", "tracker ms/frame"]


class Replay:
    """The cached detections again, frame after frame (the analyser's object detector)."""

    name = "replay"

    def __init__(self, detected: list[quality.FrameDetections]) -> None:
        self._frames = iter(detected)

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        return next(self._frames).detections


def events_per_person(detected: list[quality.FrameDetections], people: int) -> float:
    """OBJECT_APPEARED events of people the full CameraAnalyser emits / true people (an
    aggregate count, e.g. for footfall; fragmentation per person is "tracks per person")."""
    analyser = CameraAnalyser(CameraSetup("cam", "org"), DetectorSet(objects=Replay(detected)))
    appeared = 0
    for index, frame in quality.frames():
        for event in analyser.process(quality.time_of(index), frame):
            record = event.event
            person = record.object_class == CLASS_CODES[quality.PERSON]
            appeared += person and record.type == EVENT_TYPE_CODES["object_appeared"]
    return appeared / people


def main() -> None:
    cv2.setNumThreads(1)
    truth = quality.load_truth()
    people = len({i for boxes in truth.values() for i in boxes})
    print(f"vtest.avi, 398 frames at 5 fps, {people} people, IoU >= 0.5")
    print("| detector | tracker | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---:|" * len(COLUMNS))
    for label, (key, make) in DETECTORS.items():
        detected = quality.cached_detect(key, make, CACHE)
        precision, recall = quality.detection_scores(detected, truth)
        for name, (tracker, looks) in TRACKERS.items():
            started = time.process_time()
            output = quality.track(tracker, detected, looks=looks)
            cpu_ms = 1000 * (time.process_time() - started) / len(detected)
            scores = quality.track_scores(output, truth)
            cells = [f"{precision:.2f}", f"{recall:.2f}"]
            cells += [f"{scores[c]:.3f}" for c in ("MOTA", "IDF1", "HOTA")]
            cells += [f"{scores['ID switches']:.0f}", f"{scores['tracks per person']:.2f}"]
            cells += [f"{cpu_ms:.2f}"]
            print(f"| {label} | {name} | " + " | ".join(cells) + " |")
    service = quality.cached_detect("yolov3-tiny-416-0.35-ov-int8", object_detector, CACHE)
    print(
        f"CameraAnalyser (service path, 416): {events_per_person(service, people):.2f} "
        "object-appeared events / true people"
    )


if __name__ == "__main__":
    main()
