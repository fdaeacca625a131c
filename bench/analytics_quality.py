"""Detection quality on the camera simulator's scenes against their ground truth.

For each detector: precision and recall of people and vehicles per analysed frame
(IoU >= 0.5 with a ground-truth box of the same class), and the plate exact-read rate
(ground-truth plates read exactly at least once through the full analysis: tracker
plus RapidOCR on vehicle boxes). Frames are the rendered H.264 sub stream (640x360),
analysed at 5 fps. The simulator draws flat rectangles: the "flat-scene" stand-in is
the reference that finds them; YOLOv3-tiny shows what a COCO model makes of them.

    .venv/bin/python bench/analytics_quality.py [--scenes N]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import READY, Detection, Detector, DetectorHealth, Frame, ObjectClass
from rtcc.analytics.detection import box_iou as iou
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.sim.render import render
from rtcc.sim.scene import scene_for

STEP = 3
CLOCK = ((0.0, 0.0), (0.33, 0.0), (0.33, 0.1), (0.0, 0.1))
KIND = {"person": ObjectClass.PERSON, "vehicle": ObjectClass.VEHICLE}


class FlatScene:
    name = "flat-scene stand-in"

    def __init__(self, background: Frame) -> None:
        self._background = background.astype(np.int16)

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        diff = np.abs(frame.astype(np.int16) - self._background).sum(axis=2)
        mask = ((diff > 70) * 255).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h >= 150 and 1 < x and x + w < frame.shape[1] - 1:
                cls = ObjectClass.PERSON if h > w else ObjectClass.VEHICLE
                found.append(Detection(cls, 0.9, (x, y, x + w, y + h)))
        return found


def load(scene_index: int, cache: Path) -> tuple[list[Frame], dict[str, Any]]:
    import json

    rendered = render(scene_for(scene_index), cache)
    capture, frames = cv2.VideoCapture(str(rendered.sub)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return frames, json.loads(rendered.truth.read_text())


def truth_boxes(truth: dict[str, Any], index: int, scale: float) -> list[tuple[ObjectClass, Any]]:
    out = []
    for obj in truth["frames"][index]["objects"]:
        x, y, w, h = (v * scale for v in obj["box"])
        out.append((KIND[obj["kind"]], (x, y, x + w, y + h)))
    return out


def score(detector: Detector, frames: list[Frame], truth: dict[str, Any]) -> dict[str, float]:
    scale = frames[0].shape[1] / truth["size"][0]
    counts = {c: [0, 0, 0] for c in KIND.values()}  # true positives, detections, truths
    for index in range(0, len(frames), STEP):
        found = [d for d in detector.detect(frames[index]) if d.cls in counts]
        # Objects cut by the frame's edge are not expected: detectors wait until whole.
        width = frames[0].shape[1]
        truths = [t for t in truth_boxes(truth, index, scale) if 1 < t[1][0] < t[1][2] < width - 1]
        for cls in counts:
            mine = [d.box for d in found if d.cls is cls]
            theirs = [b for c, b in truths if c is cls]
            matched = sum(any(iou(m, t) >= 0.5 for m in mine) for t in theirs)
            counts[cls][0] += matched
            counts[cls][1] += len(mine)
            counts[cls][2] += len(theirs)
    result: dict[str, float] = {}
    for cls, (hits, detected, expected) in counts.items():
        result[f"{cls.value} precision"] = hits / detected if detected else float("nan")
        result[f"{cls.value} recall"] = hits / expected if expected else float("nan")
    return result


def plate_rate(detector: Detector, frames: list[Frame], truth: dict[str, Any]) -> float:
    detectors = DetectorSet(objects=detector, plates=PlateDetector())
    analyser = CameraAnalyser(CameraSetup("cam", "org", masks=(CLOCK,)), detectors)
    t0, reads = datetime(2026, 1, 1, tzinfo=UTC), set()
    for index in range(0, len(frames), STEP):
        for event in analyser.process(t0 + timedelta(seconds=index / truth["fps"]), frames[index]):
            if event.plate_read is not None:
                reads.add(event.plate_read.plate)
    wanted = {p["text"].replace(" ", "") for p in truth["plates"]}
    return len(wanted & reads) / len(wanted)


def _mean(values: list[float]) -> float:
    """Mean of the defined values; nan (no detections at all) when there are none."""
    defined = [v for v in values if v == v]
    return sum(defined) / len(defined) if defined else float("nan")


def main(scenes: int) -> None:
    cv2.setNumThreads(1)
    rows: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for i in range(scenes):
            frames, truth = load(i, Path(cache))
            background = np.median(np.stack(frames[::STEP]), axis=0).astype(np.uint8)
            for detector in (FlatScene(background), YoloTinyDetector()):
                result = score(detector, frames, truth)
                result["plates read exactly"] = plate_rate(detector, frames, truth)
                rows.setdefault(detector.name, []).append(result)
    print(f"{scenes} simulator scene(s), 640x360 sub stream, 5 fps, IoU >= 0.5")
    keys = list(next(iter(rows.values()))[0])
    print("| detector                 | " + " | ".join(f"{k:>19}" for k in keys) + " |")
    print("|--------------------------|" + "|".join("-" * 21 for _ in keys) + "|")
    for name, results in rows.items():
        means = [_mean([r[k] for r in results]) for k in keys]
        print(f"| {name:<24} | " + " | ".join(f"{m:19.2f}" for m in means) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1)
    main(parser.parse_args().scenes)
