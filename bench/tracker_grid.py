"""Choose the tracker's re-association thresholds on natural footage (grid search).

Tuned on the first half of vtest.avi (source frames 0-396), checked on the second half
(398-794), which the search never sees. Detections: YOLOv3-tiny at 416, the service's
setting (OpenVINO INT8; `--detector cv2.dnn` for the earlier one), cached under
var/quality. The objective is IDF1 on the tuning half; ties go to
fewer tracks per person. Output (stable table) is recorded in
bench/data/tracker-grid.txt; the chosen values are ByteTracker's defaults. Earlier
rounds (also on the tuning half) fixed the ranges: a gate of 0.3-1.0 or re-association
distances below 0.3 change nothing or lose IDF1; longer max_age_s (2.5 s), lower
high_score (0.4), match_iou 0.1 and max_lost_s 2.5-4 s all lost IDF1. min_hits stays 2
(events are emitted at confirmation; docs/investigations.md has the 3-hit figures).

    .venv/bin/python bench/tracker_grid.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import cv2

from rtcc.analytics import quality
from rtcc.analytics.detectors.factory import object_detector
from rtcc.analytics.detectors.objects import YoloTinyDetector

CACHE = Path("var/quality")
HALF = 396


DETECTORS = {
    # the service's default (analytics.object_runtime / object_precision = auto)
    "service": (
        "yolov3-tiny-416-0.35-ov-int8",
        object_detector,
    ),
    "cv2.dnn": ("yolov3-tiny-416-0.35", YoloTinyDetector),  # the detector until 2026-12-04
}


def main(quick: bool, detector: str) -> None:
    cv2.setNumThreads(1)
    key, make_detector = DETECTORS[detector]
    detected = quality.cached_detect(key, make_detector, CACHE)
    truth = quality.load_truth()
    tune = [f for f in detected if f.index <= HALF]
    check = [f for f in detected if f.index > HALF]
    tune_truth = {k: v for k, v in truth.items() if k <= HALF}
    check_truth = {k: v for k, v in truth.items() if k > HALF}
    grid = {
        "appearance_gate": [0.2, 0.25, 0.3],
        "reid_distance": [0.3, 0.35, 0.4, 0.5],
        "reid_motion": [0.5, 1.0, 1.5],
        "max_lost_s": [1.5, 2.0, 3.0],
        "duplicate_iou": [0.1, 0.2, 1.0],  # 1.0: no duplicate suppression
    }
    if quick:
        grid = {k: v[:2] for k, v in grid.items()}
    rows = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values, strict=True))
        scores = quality.track_scores(
            quality.track(lambda p=params: quality.reassociating_tracker(**p), tune), tune_truth
        )
        rows.append((-scores["IDF1"], scores["tracks per person"], params, scores))
    rows.sort(key=lambda r: (round(r[0], 4), r[1]))
    print(f"grid search: {len(rows)} settings, tuned on frames 0-{HALF}, checked on the rest")
    names = list(grid)
    print("| " + " | ".join(names) + " | IDF1 tune | tracks/person tune |")
    print("|" + "|".join("-" * (len(n) + 2) for n in names) + "|-----------|--------------------|")
    for _, _, p, s in rows[:15]:
        cells = " | ".join(f"{p[n]:{len(n)}.2f}" for n in names)
        print(f"| {cells} | {s['IDF1']:9.3f} | {s['tracks per person']:18.2f} |")
    best = rows[0][2]
    print(f"chosen: {best}")
    for label, part, part_truth in (("tune", tune, tune_truth), ("check", check, check_truth)):
        for name, make in (
            ("IoU only", quality.baseline_tracker),
            ("chosen", lambda: quality.reassociating_tracker(**best)),
        ):
            looks = name != "IoU only"
            s = quality.track_scores(quality.track(make, part, looks=looks), part_truth)
            print(
                f"{label:5} {name:8} IDF1 {s['IDF1']:.3f} MOTA {s['MOTA']:.3f} "
                f"HOTA {s['HOTA']:.3f} tracks/person {s['tracks per person']:.2f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--detector", choices=list(DETECTORS), default="service")
    args = parser.parse_args()
    main(args.quick, args.detector)
