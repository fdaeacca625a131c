"""Tracking quality on natural footage: the harness behind bench/analytics_tracks.py,
bench/tracker_grid.py and tests/quality/.

Footage: ``rtcc.sim.footage`` (vtest.avi, people on a campus road); truth: the
hand-reviewed ``bench/data/vtest-truth.txt`` (MOT format; how it was made:
bench/data/annotate_vtest.py and docs/investigations.md). Frames are the source's even frames
(5 fps, as analytics runs). Metrics come from maintained libraries: py-motmetrics (MOTA,
IDF1, switches) and TrackEval (HOTA); detection precision/recall at IoU >= 0.5 and
"tracks per person" (distinct track ids matched to one true person) are computed here.
``motmetrics``/``trackeval`` are development dependencies, imported when used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rtcc.analytics import appearance
from rtcc.analytics.detection import Box, Detection, Detector, Frame, ObjectClass, box_iou
from rtcc.analytics.tracker import ByteTracker
from rtcc.sim.footage import FOOTAGE_FPS, TRUTH_FILE, locate_footage

STEP = 2  # every second frame of the 10 fps source: 5 fps
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERSON = ObjectClass.PERSON
Truth = dict[int, dict[int, Box]]  # source frame index -> {person id: box}


def load_truth(path: Path = TRUTH_FILE, *, last_frame: int | None = None) -> Truth:
    """MOT rows ``frame,id,x,y,w,h,...`` (frame = source index + 1) as boxes per frame."""
    out: Truth = {}
    for line in path.read_text().splitlines():
        f, i, x, y, w, h = (float(v) for v in line.split(",")[:6])
        frame = int(f) - 1
        if last_frame is None or frame <= last_frame:
            out.setdefault(frame, {})[int(i)] = (x, y, x + w, y + h)
    return out


def frames(*, last_frame: int | None = None, step: int = STEP) -> Iterator[tuple[int, Frame]]:
    """(source index, BGR frame) of every ``step``-th frame of the verified footage."""
    capture = cv2.VideoCapture(str(locate_footage(verify=True)))
    index = 0
    try:
        while last_frame is None or index <= last_frame:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                yield index, np.asarray(frame, np.uint8)
            index += 1
    finally:
        capture.release()


def time_of(index: int) -> datetime:
    return T0 + timedelta(seconds=index / FOOTAGE_FPS)


@dataclass(frozen=True)
class FrameDetections:
    """One frame's person detections and their appearances (computed once, reused)."""

    index: int
    detections: list[Detection]
    looks: list[appearance.Appearance | None]


def detect(detector: Detector, source: Iterator[tuple[int, Frame]]) -> list[FrameDetections]:
    out = []
    for index, frame in source:
        found = [d for d in detector.detect(frame) if d.cls is PERSON]
        out.append(
            FrameDetections(index, found, [appearance.describe(frame, d.box) for d in found])
        )
    return out


def cached_detect(
    name: str,
    make: Callable[[], Detector],
    cache_dir: Path,
    *,
    last_frame: int | None = None,
) -> list[FrameDetections]:
    """``detect`` with its result kept in ``cache_dir`` (keyed by setting and frames)."""
    key = hashlib.sha256(f"{name}|{last_frame}|{STEP}|v1".encode()).hexdigest()[:16]
    path = cache_dir / f"detections-{key}.json"
    if path.exists():
        rows = json.loads(path.read_text())
        return [
            FrameDetections(
                r["i"],
                [Detection(PERSON, c, tuple(b)) for c, *b in r["d"]],  # type: ignore[arg-type]
                [None if v is None else np.array(v, np.float32) for v in r["l"]],
            )
            for r in rows
        ]
    result = detect(make(), frames(last_frame=last_frame))
    cache_dir.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "i": f.index,
            "d": [[d.confidence, *d.box] for d in f.detections],
            "l": [None if v is None else [float(x) for x in v] for v in f.looks],
        }
        for f in result
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows))
    tmp.replace(path)
    return result


Output = dict[int, dict[int, Box]]  # source frame index -> {track id: box}


def track(
    make: Callable[[], ByteTracker], detected: list[FrameDetections], *, looks: bool = True
) -> Output:
    """The tracker's output per frame: confirmed tracks updated in that frame."""
    tracker = make()
    out: Output = {}
    for f in detected:
        when = time_of(f.index)
        tracker.update(f.detections, when, f.looks if looks else None)
        out[f.index] = {t.id: t.box for t in tracker.tracks if t.last_time == when}
    return out


def detection_scores(
    detected: list[FrameDetections], truth: Truth, *, min_confidence: float = 0.0
) -> tuple[float, float]:
    """Precision and recall of person boxes at IoU >= 0.5 (greedy one-to-one per frame)."""
    hits = found = expected = 0
    for f in detected:
        mine = [d.box for d in f.detections if d.confidence >= min_confidence]
        theirs = list(truth.get(f.index, {}).values())
        hits += _greedy_matches(mine, theirs)
        found += len(mine)
        expected += len(theirs)
    return (hits / found if found else 0.0, hits / expected if expected else 0.0)


def _greedy_matches(mine: list[Box], theirs: list[Box]) -> int:
    pairs = sorted(
        ((box_iou(m, t), i, j) for i, m in enumerate(mine) for j, t in enumerate(theirs)),
        reverse=True,
    )
    used_m: set[int] = set()
    used_t: set[int] = set()
    for iou, i, j in pairs:
        if iou < 0.5:
            break
        if i not in used_m and j not in used_t:
            used_m.add(i)
            used_t.add(j)
    return len(used_m)


def _distances(truth_boxes: list[Box], output_boxes: list[Box]) -> Any:
    d = np.full((len(truth_boxes), len(output_boxes)), np.nan)
    for i, t in enumerate(truth_boxes):
        for j, o in enumerate(output_boxes):
            iou = box_iou(t, o)
            if iou >= 0.5:
                d[i, j] = 1.0 - iou
    return d


def track_scores(output: Output, truth: Truth) -> dict[str, float]:
    """MOTA, IDF1, ID switches (py-motmetrics), HOTA (TrackEval), tracks per person."""
    import motmetrics as mm

    accumulator = mm.MOTAccumulator(auto_id=False)
    indexes = sorted(set(output) | set(truth))
    for k, index in enumerate(indexes):
        gt, mine = truth.get(index, {}), output.get(index, {})
        accumulator.update(
            list(gt), list(mine), _distances(list(gt.values()), list(mine.values())), frameid=k
        )
    summary = mm.metrics.create().compute(
        accumulator, metrics=["mota", "idf1", "num_switches", "num_unique_objects"], name="run"
    )
    events = accumulator.mot_events
    matched = events[events["Type"].isin(["MATCH", "SWITCH"])]
    per_person = matched.groupby("OId")["HId"].nunique()
    persons = len({i for boxes in truth.values() for i in boxes})
    tracks = len({i for boxes in output.values() for i in boxes})
    return {
        "MOTA": float(summary["mota"].iloc[0]),
        "IDF1": float(summary["idf1"].iloc[0]),
        "HOTA": hota(output, truth, indexes),
        "ID switches": float(summary["num_switches"].iloc[0]),
        "tracks per person": float(per_person.mean()) if len(per_person) else 0.0,
        "tracks / people": tracks / persons if persons else 0.0,
    }


def hota(output: Output, truth: Truth, indexes: list[int]) -> float:
    """HOTA (alpha-averaged) by TrackEval's own implementation."""
    import trackeval

    gt_ids = sorted({i for boxes in truth.values() for i in boxes})
    tr_ids = sorted({i for boxes in output.values() for i in boxes})
    gt_index = {v: k for k, v in enumerate(gt_ids)}
    tr_index = {v: k for k, v in enumerate(tr_ids)}
    data: dict[str, Any] = {
        "num_timesteps": len(indexes),
        "num_gt_ids": len(gt_ids),
        "num_tracker_ids": len(tr_ids),
        "num_gt_dets": sum(len(truth.get(i, {})) for i in indexes),
        "num_tracker_dets": sum(len(output.get(i, {})) for i in indexes),
        "gt_ids": [],
        "tracker_ids": [],
        "similarity_scores": [],
    }
    for index in indexes:
        gt, mine = truth.get(index, {}), output.get(index, {})
        data["gt_ids"].append(np.array([gt_index[i] for i in gt], dtype=int))
        data["tracker_ids"].append(np.array([tr_index[i] for i in mine], dtype=int))
        sim = np.zeros((len(gt), len(mine)))
        for a, g in enumerate(gt.values()):
            for b, m in enumerate(mine.values()):
                sim[a, b] = box_iou(g, m)
        data["similarity_scores"].append(sim)
    result = trackeval.metrics.HOTA().eval_sequence(data)
    return float(np.mean(result["HOTA"]))


# Tracker settings compared by the harness. "IoU only" is the tracker as it was before
# re-association (no appearances, tracks end 1.5 s after the last match).
def baseline_tracker(high_score: float = 0.5) -> ByteTracker:
    return ByteTracker(high_score=high_score)


def reassociating_tracker(high_score: float = 0.5, **overrides: float) -> ByteTracker:
    return ByteTracker(high_score=high_score, **overrides)  # type: ignore[arg-type]
