"""Frames per second per core of each analytics detector at 640 px, single-threaded.

Each detector runs on one thread (cv2.setNumThreads(1), onnxruntime with one intra-op
thread), as in production where cameras, not threads, are spread over cores. The
frame is a 640x360 synthetic street (a car with a plate, a person). The anchor is a
JPEG encode of the same frame, which every event with a snapshot pays.

    .venv/bin/python bench/analytics_detectors.py [--frames N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from rtcc.analytics.detection import Detection, ObjectClass
from rtcc.analytics.detectors.faces import FaceDetector
from rtcc.analytics.detectors.factory import object_detector
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.rules import Line, RuleEngine, Zone
from rtcc.analytics.tracker import ByteTracker

WIDTH, HEIGHT = 640, 360
CAR_BOX = (200.0, 150.0, 420.0, 280.0)


def street(shift: int = 0) -> np.ndarray:
    frame = np.full((HEIGHT, WIDTH, 3), 80, np.uint8)
    frame[250:, :] = 55
    x1, y1, x2, y2 = (int(v) for v in CAR_BOX)
    cv2.rectangle(frame, (x1 + shift, y1), (x2 + shift, y2), (30, 30, 180), -1)
    cv2.rectangle(frame, (250 + shift, 235), (370 + shift, 267), (255, 255, 255), -1)
    cv2.putText(frame, "7KX123", (258 + shift, 260), cv2.FONT_HERSHEY_SIMPLEX, 0.75, (0, 0, 0), 2)
    cv2.rectangle(frame, (520, 120), (560, 240), (120, 60, 10), -1)
    return frame


def measure(run: Callable[[int], object], n: int) -> list[float]:
    for i in range(min(3, n)):
        run(i)
    samples = []
    for i in range(n):
        started = time.perf_counter()
        run(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def row(name: str, samples: list[float], note: str = "") -> str:
    p50 = statistics.median(samples)
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    return f"| {name:<40} | {p50:7.1f} | {p95:7.1f} | {1000 / p50:8.1f} | {note:<24} |"


def tracker_and_rules(frames: int) -> Callable[[int], object]:
    tracker = ByteTracker()
    rules = RuleEngine(
        [Zone("z", ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)))],
        [Line("l", (0.5, 0.0), (0.5, 1.0))],
    )
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def step(i: int) -> object:
        x = 10.0 + (5 * i) % 560
        dets = [
            Detection(ObjectClass.PERSON, 0.9, (x + k * 3, 40.0 * k, x + k * 3 + 30, 40.0 * k + 90))
            for k in range(8)
        ]
        update = tracker.update(dets, t0 + timedelta(seconds=i / 5))
        return rules.update(update.active, WIDTH, HEIGHT)

    return step


def main(n: int) -> None:
    cv2.setNumThreads(1)
    frames = [street(shift=(i % 20) * 4) for i in range(20)]
    motion, yolo = MotionDetector(), YoloTinyDetector()
    # The service's default (analytics.object_runtime / object_precision = auto).
    served = object_detector()
    plates, faces = PlateDetector(), FaceDetector()

    def at(i: int) -> np.ndarray:
        return frames[i % len(frames)]

    rows = [
        ("anchor: JPEG encode (quality 80)", lambda i: cv2.imencode(".jpg", at(i)), ""),
        ("motion (MOG2 at 320 px)", lambda i: motion.detect(at(i)), "every frame"),
        ("objects: YOLOv3-tiny 416x416, cv2.dnn", lambda i: yolo.detect(at(i)), "reference"),
        (
            f"objects: YOLOv3-tiny 416x416, {served.runtime} {served.precision}",
            lambda i: served.detect(at(i)),
            "service default",
        ),
        ("plates: RapidOCR in a car box", lambda i: plates.detect_in(at(0), [CAR_BOX]), "per car"),
        ("plates: RapidOCR whole frame", lambda i: plates.detect(at(0)), "no vehicle box"),
        ("faces: yuface (libfacedetection)", lambda i: faces.detect(at(i)), "every frame"),
        ("tracker + rules, 8 objects", tracker_and_rules(n), "pure Python"),
    ]
    print(f"frames {WIDTH}x{HEIGHT}, one thread, {n} runs each (after warm-up)")
    print(f"| {'detector':<40} | p50 ms  | p95 ms  | fps/core | {'note':<24} |")
    print(f"|{'-' * 42}|---------|---------|----------|{'-' * 26}|")
    for name, run, note in rows:
        print(row(name, measure(run, n), note))
    for detector in (yolo, served, plates, faces):
        if not detector.status().ready:
            print(f"{detector.name}: UNAVAILABLE: {detector.status().reason}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    main(parser.parse_args().frames)
