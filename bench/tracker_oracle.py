"""Upper bound: the tracker on natural footage if appearances identified people perfectly.

Not a tracker setting: each cached detection's HSV histograms are replaced by a code of
the true person it covers (IoU >= 0.5 with a box of bench/data/vtest-truth.txt; one
random code per detection that covers nobody), so appearance distance is 0 for the same
person and 1 otherwise. Detections, motion and every other rule stay as they are. It
shows how much of the gap to the goals (IDF1 >= 0.7, tracks per person <= 1.2) is the
appearance descriptor rather than the association logic. YOLOv3-tiny 416, whole clip.

    .venv/bin/python bench/tracker_oracle.py
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from rtcc.analytics import appearance, quality
from rtcc.analytics.detection import box_iou
from rtcc.analytics.detectors.objects import YoloTinyDetector

CACHE = Path("var/quality")
SETTINGS: dict[str, dict[str, float]] = {
    "defaults": {},
    "defaults, reid_motion 3, max_lost_s 5": {"reid_motion": 3.0, "max_lost_s": 5.0},
}


def _code(identity: int) -> appearance.Appearance:
    look = np.zeros(appearance.SIZE, np.float32)
    look[identity % appearance.HALF] = 1.0
    look[appearance.HALF + (7 * identity) % appearance.HALF] = 1.0
    return look


def identity_looks(
    detected: list[quality.FrameDetections], truth: quality.Truth
) -> list[quality.FrameDetections]:
    rng = np.random.default_rng(0)
    out = []
    for f in detected:
        looks: list[appearance.Appearance | None] = []
        for d in f.detections:
            people = truth.get(f.index, {})
            iou, who = max(((box_iou(d.box, b), i) for i, b in people.items()), default=(0.0, 0))
            looks.append(_code(who if iou >= 0.5 else int(rng.integers(100, 10_000))))
        out.append(quality.FrameDetections(f.index, f.detections, looks))
    return out


def main() -> None:
    cv2.setNumThreads(1)
    truth = quality.load_truth()
    detected = quality.cached_detect("yolov3-tiny-416-0.35", YoloTinyDetector, CACHE)
    oracle = identity_looks(detected, truth)
    print("| appearances | tracker | MOTA | IDF1 | HOTA | ID switches | tracks per person |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for looks_name, frames in (("HSV histograms", detected), ("true identity", oracle)):
        for name, overrides in SETTINGS.items():
            output = quality.track(
                functools.partial(quality.reassociating_tracker, **overrides), frames
            )
            s = quality.track_scores(output, truth)
            print(
                f"| {looks_name} | {name} | {s['MOTA']:.3f} | {s['IDF1']:.3f} | {s['HOTA']:.3f}"
                f" | {s['ID switches']:.0f} | {s['tracks per person']:.2f} |"
            )


if __name__ == "__main__":
    main()
