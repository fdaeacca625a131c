"""How the ground truth of the natural-footage harness was made (semi-automatic).

    .venv/bin/python bench/data/annotate_vtest.py propose   # slow detector -> vtest-proposals.json
    .venv/bin/python bench/data/annotate_vtest.py link      # proposals + corrections -> truth
    .venv/bin/python bench/data/annotate_vtest.py review OUT_DIR [FRAME ...]  # PNGs to look at

1. ``propose``: YOLOv3-tiny at 608x608 (the service runs 416), confidence >= 0.15, on
   each even frame of vtest.avi and on its mirror image (test-time augmentation), people
   only. Slow (~4 min on 2 cores) and stored: ``bench/data/vtest-proposals.json``.
2. ``link``: fuse the two passes per frame (NMS), link frames offline into tracks
   (Hungarian on IoU with a constant-velocity prediction, gaps up to 2 s bridged by
   linear interpolation, both directions known — the annotator sees the future), then
   apply the hand corrections of ``bench/data/vtest-corrections.json``: tracks dropped
   (false people: tripod, lamp post), fragments merged into one identity, boxes added
   at key frames where no detector found the person (interpolated in between).
3. ``review``: frames with the truth drawn (id per person) as PNG; a person looks at
   them (the corrections were decided that way) and at the printed track table.

The output, ``bench/data/vtest-truth.txt``, is MOTChallenge format:
``frame,id,x,y,w,h,1,-1,-1,-1`` with ``frame`` = source frame index + 1 (even source
frames only, i.e. 5 fps). What this truth can and cannot say is in docs/investigations.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from rtcc.analytics import appearance
from rtcc.analytics.detection import ObjectClass, box_iou
from rtcc.sim.footage import locate_footage

DATA = Path(__file__).parent
PROPOSALS = DATA / "vtest-proposals.json"
CORRECTIONS = DATA / "vtest-corrections.json"
TRUTH = DATA / "vtest-truth.txt"
STEP = 2  # every second frame of the 10 fps source: 5 fps, as analytics runs
MAX_GAP = 2  # sampled frames (0.4 s) a track may be unseen and still be linked
MIN_IOU = 0.5  # strict: fragments stay pure; identities are joined by hand (merge)
Box = tuple[float, float, float, float]


def read_frames(step: int = STEP) -> dict[int, np.ndarray]:
    capture, frames, index = cv2.VideoCapture(str(locate_footage(verify=True))), {}, 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames[index] = frame
        index += 1
    return frames


def propose() -> None:
    from rtcc.analytics.detectors.objects import YoloTinyDetector

    detector = YoloTinyDetector(input_size=608, min_confidence=0.15)
    out: dict[str, list[list[float]]] = {}
    for index, frame in read_frames().items():
        width = frame.shape[1]
        boxes = [[d.confidence, *d.box] for d in detector.detect(frame)
                 if d.cls is ObjectClass.PERSON]  # fmt: skip
        for d in detector.detect(cv2.flip(frame, 1)):
            if d.cls is ObjectClass.PERSON:
                x1, y1, x2, y2 = d.box
                boxes.append([d.confidence, width - x2, y1, width - x1, y2])
        out[str(index)] = [[round(v, 3) for v in b] for b in boxes]
    PROPOSALS.write_text(json.dumps(out, separators=(",", ":")))


def _fuse(boxes: list[list[float]], min_conf: float = 0.2) -> list[Box]:
    """Per frame: greedy NMS at IoU 0.5, boxes of a cluster averaged (confidence-weighted)."""
    rest = sorted((b for b in boxes if b[0] >= min_conf), key=lambda b: -b[0])
    fused: list[Box] = []
    while rest:
        head = rest.pop(0)
        cluster = [head] + [b for b in rest if box_iou(tuple(head[1:]), tuple(b[1:])) >= 0.5]
        rest = [b for b in rest if b not in cluster]
        weights = np.array([b[0] for b in cluster])
        coords = np.array([b[1:] for b in cluster])
        avg = (coords * weights[:, None]).sum(axis=0) / weights.sum()
        fused.append((float(avg[0]), float(avg[1]), float(avg[2]), float(avg[3])))
    return fused


def link(proposals: dict[str, list[list[float]]]) -> dict[int, dict[int, Box]]:
    """Tracks as {id: {frame: box}} with gaps interpolated: strict frame-to-frame links
    (IoU and appearance), then fragments joined offline (``join``)."""
    images = read_frames()
    strict = _link_strict(proposals, images)
    pure: dict[int, dict[int, Box]] = {}
    for t, path in strict.items():
        for k, part in enumerate(split_on_change(path, images)):
            pure[t * 100 + k] = part
    return join(pure, images)


def split_on_change(
    path: dict[int, Box], images: dict[int, np.ndarray], window: int = 4, limit: float = 0.28
) -> list[dict[int, Box]]:
    """Cut a track where its appearance changes most (mean of the ``window`` boxes before
    vs after), if by more than ``limit``; recursively. Catches the linker sliding from
    one person of a walking pair to the other."""
    keys = sorted(path)
    if len(keys) < 2 * window + 2:
        return [path]
    looks = [_look(images, f, path[f]) for f in keys]
    best, where = 0.0, -1
    for i in range(window, len(keys) - window):
        before = [v for v in looks[i - window : i] if v is not None]
        after = [v for v in looks[i : i + window] if v is not None]
        if before and after:
            d = appearance.distance(np.mean(before, axis=0), np.mean(after, axis=0))
            if d > best:
                best, where = d, i
    if best <= limit:
        return [path]
    head = {f: path[f] for f in keys[:where]}
    tail = {f: path[f] for f in keys[where:]}
    return split_on_change(head, images, window, limit) + split_on_change(
        tail, images, window, limit
    )


def _look(images: dict[int, np.ndarray], frame: int, box: Box) -> Any:
    return appearance.describe(images[frame], box)


def _link_strict(
    proposals: dict[str, list[list[float]]], images: dict[int, np.ndarray]
) -> dict[int, dict[int, Box]]:
    frames = sorted(int(k) for k in proposals)
    tracks: dict[int, dict[int, Box]] = {}
    velocity: dict[int, np.ndarray] = {}
    next_id = 1
    for frame in frames:
        dets = _fuse(proposals[str(frame)])
        alive = [t for t, path in tracks.items() if 0 < (frame - max(path)) / STEP <= MAX_GAP]
        cost = np.ones((len(alive), len(dets)))
        for i, t in enumerate(alive):
            last = max(tracks[t])
            gap = (frame - last) / STEP
            predicted = np.array(tracks[t][last]) + velocity.get(t, np.zeros(4)) * gap
            look = _look(images, last, tracks[t][last])
            for j, d in enumerate(dets):
                iou = box_iou(tuple(predicted), d)
                other = _look(images, frame, d)
                alike = look is None or other is None or appearance.distance(look, other) < 0.3
                cost[i, j] = 1 - iou if iou >= MIN_IOU and alike else 1.0
        used: set[int] = set()
        if alive and dets:
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols, strict=True):
                if cost[i, j] >= 1.0:
                    continue
                t = alive[i]
                last = max(tracks[t])
                gap = (frame - last) / STEP
                step = (np.array(dets[j]) - np.array(tracks[t][last])) / gap
                velocity[t] = 0.5 * step + 0.5 * velocity.get(t, step)
                tracks[t][frame] = dets[j]
                used.add(j)
        for j, d in enumerate(dets):
            if j not in used:
                tracks[next_id] = {frame: d}
                next_id += 1
    return {t: interpolate(p) for t, p in tracks.items() if len(p) >= 3}


def join(
    tracks: dict[int, dict[int, Box]], images: dict[int, np.ndarray], max_gap_s: float = 3.0
) -> dict[int, dict[int, Box]]:
    """Offline: join fragment B to A when B starts after A ends (<= max_gap_s), near where
    A was heading, and looks alike (mean appearance of the last/first 5 boxes); the
    closest pairs first. Then interpolate gaps."""

    def mean_look(path: dict[int, Box], keys: list[int]) -> Any:
        looks = [v for v in (_look(images, f, path[f]) for f in keys) if v is not None]
        return np.mean(looks, axis=0) if looks else None

    info = {}
    for t, path in tracks.items():
        keys = sorted(path)
        info[t] = (keys, mean_look(path, keys[-5:]), mean_look(path, keys[:5]))
    pairs = []
    for a, (ka, end_look, _) in info.items():
        for b, (kb, _, start_look) in info.items():
            gap = (kb[0] - ka[-1]) / 10.0
            if a == b or not 0 < gap <= max_gap_s or end_look is None or start_look is None:
                continue
            ea, sb = tracks[a][ka[-1]], tracks[b][kb[0]]
            prev = tracks[a][ka[max(0, len(ka) - 4)]]
            steps = max(1, (ka[-1] - ka[max(0, len(ka) - 4)]) / STEP)
            vel = (np.array(ea) - np.array(prev)) / steps
            pred = np.array(ea) + vel * ((kb[0] - ka[-1]) / STEP)
            height = ea[3] - ea[1]
            centre = np.hypot(
                (pred[0] + pred[2] - sb[0] - sb[2]) / 2, (pred[1] + pred[3] - sb[1] - sb[3]) / 2
            )
            look = appearance.distance(end_look, start_look)
            if centre < 0.8 * height and look < 0.3:
                pairs.append((look + centre / height, a, b))
    pairs.sort()
    parent: dict[int, int] = {}
    has_next: set[int] = set()
    has_prev: set[int] = set()
    for _, a, b in pairs:
        if a in has_next or b in has_prev:
            continue
        root = a
        while root in parent:
            root = parent[root]
        if any(f in tracks[root] for f in tracks[b]):
            continue
        has_next.add(a)
        has_prev.add(b)
        parent[b] = root
        tracks[root].update(tracks[b])
    return {t: interpolate(p) for t, p in tracks.items() if t not in parent and len(p) >= 3}


def interpolate(path: dict[int, Box], max_gap: int = 10) -> dict[int, Box]:
    """Boxes for the frames between two known ones, if at most ``max_gap`` source frames
    (1 s) apart; longer gaps stay empty (an unseen person is not guessed at)."""
    keys = sorted(path)
    out = dict(path)
    for a, b in itertools.pairwise(keys):
        if b - a > max_gap:
            continue
        for f in range(a + STEP, b, STEP):
            w = (f - a) / (b - a)
            out[f] = tuple((1 - w) * p + w * q for p, q in zip(path[a], path[b], strict=True))  # type: ignore[assignment]
    return out


def apply_corrections(
    tracks: dict[int, dict[int, Box]], corrections: dict[str, Any]
) -> dict[int, dict[int, Box]]:
    """drop: [id]; trim: [[id, first, last]] keep only frames in range; cut: [[id, first,
    last]] remove frames in range; split: [[id, frame, new_id]] frames >= frame move to
    new_id; merge: [[keep, other, ...]]; add: {id: {frame: box}} key frames (interpolated)."""
    tracks = {t: dict(p) for t, p in tracks.items()}
    for t, frame, new in corrections.get("split", []):
        moved = {f: b for f, b in tracks[t].items() if f >= frame}
        tracks[t] = {f: b for f, b in tracks[t].items() if f < frame}
        tracks[new] = moved
    for t in corrections.get("drop", []):
        tracks.pop(t, None)
    for t, first, last in corrections.get("trim", []):
        tracks[t] = {f: b for f, b in tracks[t].items() if first <= f <= last}
    for t, first, last in corrections.get("cut", []):
        tracks[t] = {f: b for f, b in tracks[t].items() if not first <= f <= last}
    for keep, *others in corrections.get("merge", []):
        for other in others:
            for f, b in tracks.pop(other).items():
                tracks[keep].setdefault(f, b)
        tracks[keep] = interpolate(tracks[keep])
    for t, keys in corrections.get("add", {}).items():
        path = tracks.setdefault(int(t), {})
        for f, b in keys.items():
            path[int(f)] = tuple(b)  # type: ignore[assignment]
        tracks[int(t)] = interpolate(path)
    return {t: p for t, p in tracks.items() if p}


def write_truth(tracks: dict[int, dict[int, Box]]) -> None:
    lines = []
    ids = {t: i + 1 for i, t in enumerate(sorted(tracks, key=lambda t: (min(tracks[t]), t)))}
    for t, path in tracks.items():
        for f, (x1, y1, x2, y2) in path.items():
            lines.append((f + 1, ids[t], x1, y1, x2 - x1, y2 - y1))
    lines.sort()
    TRUTH.write_text(
        "".join(
            f"{f},{i},{x:.1f},{y:.1f},{w:.1f},{h:.1f},1,-1,-1,-1\n" for f, i, x, y, w, h in lines
        )
    )


def load_truth(path: Path = TRUTH) -> dict[int, dict[int, Box]]:
    """{source frame index: {person id: (x1, y1, x2, y2)}}."""
    out: dict[int, dict[int, Box]] = {}
    for line in path.read_text().splitlines():
        f, i, x, y, w, h = (float(v) for v in line.split(",")[:6])
        out.setdefault(int(f) - 1, {})[int(i)] = (x, y, x + w, y + h)
    return out


def review(out_dir: Path, wanted: list[int], source: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    if source == "truth":
        by_frame = load_truth()
    else:
        tracks = link(json.loads(PROPOSALS.read_text()))
        if source == "corrected":
            tracks = apply_corrections(tracks, json.loads(CORRECTIONS.read_text()))
        by_frame = {}
        for t, path in tracks.items():
            for f, b in path.items():
                by_frame.setdefault(f, {})[t] = b
        for t, path in sorted(tracks.items(), key=lambda kv: min(kv[1])):
            a, b = min(path), max(path)
            print(f"id {t:3d} frames {a:3d}-{b:3d} first {_fmt(path[a])} last {_fmt(path[b])}")
    frames = read_frames()
    for f in wanted or sorted(frames)[::40]:
        image = frames[f].copy()
        for t, (x1, y1, x2, y2) in by_frame.get(f, {}).items():
            cv2.rectangle(image, (int(x1), int(y1)), (int(x2), int(y2)), (0, 0, 255), 1)
            cv2.putText(image, str(t), (int(x1), int(y1) - 2), cv2.FONT_HERSHEY_SIMPLEX,
                        0.5, (0, 255, 255), 1)  # fmt: skip
        cv2.putText(
            image, f"frame {f}", (5, 570), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2
        )
        cv2.imwrite(str(out_dir / f"frame{f:03d}.png"), image)


def sheet(out_dir: Path, source: str, per_image: int = 20, crops: int = 10) -> None:
    """Contact sheets: one row per track, ``crops`` crops along it (first to last frame),
    so a person can see at a glance a false track, an identity switch inside a track, or
    two fragments of the same person (same clothes)."""
    tracks = link(json.loads(PROPOSALS.read_text()))
    if source == "corrected":
        tracks = apply_corrections(tracks, json.loads(CORRECTIONS.read_text()))
    frames = read_frames()
    order = sorted(tracks, key=lambda t: (min(tracks[t]), t))
    out_dir.mkdir(parents=True, exist_ok=True)
    cell_w, cell_h, label_w = 40, 80, 150
    for page, start in enumerate(range(0, len(order), per_image)):
        rows = []
        for t in order[start : start + per_image]:
            keys = sorted(tracks[t])
            picks = [keys[round(i * (len(keys) - 1) / max(1, crops - 1))] for i in range(crops)]
            row = np.zeros((cell_h, label_w + crops * cell_w, 3), np.uint8)
            text = f"{t} {keys[0]}-{keys[-1]}"
            cv2.putText(row, text, (3, 45), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
            for i, f in enumerate(picks):
                x1, y1, x2, y2 = (int(v) for v in tracks[t][f])
                crop = frames[f][max(0, y1) : max(y1 + 1, y2), max(0, x1) : max(x1 + 1, x2)]
                if crop.size:
                    row[:, label_w + i * cell_w : label_w + (i + 1) * cell_w] = cv2.resize(
                        crop, (cell_w, cell_h)
                    )
            rows.append(row)
        cv2.imwrite(str(out_dir / f"sheet{page}.png"), np.vstack(rows))


def _fmt(box: Box) -> str:
    return "(" + ",".join(f"{v:.0f}" for v in box) + ")"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["propose", "link", "review", "sheet"])
    parser.add_argument("out", nargs="?", default="/tmp/vtest-review")
    parser.add_argument("frames", nargs="*", type=int)
    parser.add_argument("--source", choices=["raw", "corrected", "truth"], default="corrected")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    if args.command == "propose":
        propose()
    elif args.command == "link":
        tracks = apply_corrections(
            link(json.loads(PROPOSALS.read_text())), json.loads(CORRECTIONS.read_text())
        )
        write_truth(tracks)
        print(f"{len(tracks)} people, {sum(len(p) for p in tracks.values())} boxes -> {TRUTH}")
    elif args.command == "sheet":
        sheet(Path(args.out), args.source)
    else:
        review(Path(args.out), args.frames, args.source)


if __name__ == "__main__":
    main(sys.argv[1:])
