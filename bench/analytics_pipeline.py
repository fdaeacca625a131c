"""End-to-end event latency of one camera's pipeline at 5 fps, 640x360, one worker thread.

Frames arrive in real time (capture time = now) through the bounded queue; every
detector a camera can run is on: motion, YOLOv3-tiny, yuface, RapidOCR on tracked
vehicles. The synthetic street's rectangles are not COCO objects, so the object stage
runs YOLO for its cost and takes its boxes from a colour-blob finder (flagged in the
table). Latency is capture to the sink (in-memory here; the storing sink adds a DB row,
a JPEG put and a bus publish).

    .venv/bin/python bench/analytics_pipeline.py [--seconds S] [--fps F]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import cv2
import numpy as np

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import READY, Detection, DetectorHealth, Frame, ObjectClass
from rtcc.analytics.detectors.faces import FaceDetector
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.events import CollectingSink
from rtcc.analytics.pipeline import CameraPipeline
from rtcc.analytics.rules import Line

WIDTH, HEIGHT = 640, 360


class YoloCostBlobs:
    """Runs YOLOv3-tiny for its cost, reports saturated colour blobs as objects."""

    name = "yolo-cost-blobs"

    def __init__(self) -> None:
        self._yolo = YoloTinyDetector()

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        self._yolo.detect(frame)
        hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
        mask = (hsv[..., 1] > 100).astype(np.uint8) * 255
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h >= 400:
                cls = ObjectClass.VEHICLE if w > h else ObjectClass.PERSON
                found.append(Detection(cls, 0.9, (x, y, x + w, y + h), {"vehicle_type": "car"}))
        return found


def street(t: float) -> Frame:
    frame = np.full((HEIGHT, WIDTH, 3), 80, np.uint8)
    for k, (speed, y, colour, plate) in enumerate(
        [(90, 60, (30, 30, 180), "LZP6729"), (-70, 200, (180, 90, 20), "XYE3458")]
    ):
        x = int((k * 300 + speed * t) % (WIDTH + 260)) - 230
        cv2.rectangle(frame, (x, y), (x + 200, y + 100), colour, -1)
        cv2.rectangle(frame, (x + 40, y + 62), (x + 160, y + 92), (255, 255, 255), -1)
        cv2.putText(frame, plate, (x + 46, y + 85), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2)
    px = int(40 + 25 * t) % WIDTH
    cv2.rectangle(frame, (px, 250), (px + 25, 330), (20, 160, 20), -1)
    return frame


async def live(seconds: float, fps: float) -> AsyncIterator[tuple[datetime, Frame]]:
    started = time.monotonic()
    for i in range(int(seconds * fps)):
        await asyncio.sleep(max(0.0, started + i / fps - time.monotonic()))
        yield datetime.now(UTC), street(i / fps)


async def main(seconds: float, fps: float) -> None:
    cv2.setNumThreads(1)
    detectors = DetectorSet(MotionDetector(), YoloCostBlobs(), PlateDetector(), FaceDetector())
    setup = CameraSetup("cam_bench", "org_bench", lines=(Line("l", (0.5, 0.0), (0.5, 1.0)),))
    analyser = CameraAnalyser(setup, detectors)
    sink = CollectingSink()
    pipeline = CameraPipeline(analyser, sink, queue_size=4)
    await pipeline.run(live(seconds, fps))
    latencies = sorted(e.latency_s * 1000 for e in sink.events if e.latency_s)
    per_frame = analyser.stats.detect_seconds / max(1, analyser.stats.frames) * 1000
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan")
    print(f"{seconds:.0f} s at {fps:g} fps, {WIDTH}x{HEIGHT}, one worker thread")
    print("| camera pipeline (all detectors)       | value    |")
    print("|---------------------------------------|----------|")
    counts = pipeline.stats
    print(f"| frames received                       | {counts.received:8d} |")
    print(f"| frames analysed                       | {counts.processed:8d} |")
    print(f"| frames dropped (queue full, oldest)   | {counts.dropped:8d} |")
    print(f"| analysis per frame, mean ms           | {per_frame:8.1f} |")
    print(f"| events                                | {len(sink.events):8d} |")
    p50 = statistics.median(latencies) if latencies else float("nan")
    print(f"| capture -> sink latency p50 ms        | {p50:8.1f} |")
    print(f"| capture -> sink latency p95 ms        | {p95:8.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fps", type=float, default=5.0)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.fps))
