"""Analytics at a city's cost: cameras per core at 5 fps, before vs after region detection.

Same run, same frames, one thread (cv2.setNumThreads(1)), YOLOv3-tiny at 416 px through
the service's CameraAnalyser (masks, motion, detection, appearance, tracker, rules,
snapshot JPEGs). Cost is CPU time (time.process_time around each analysed frame), not
wall time: the dev machine is shared and loaded by others, so wall time would measure
them. Frame decoding is left out (ingest decodes and sends BGR frames).

Modes:
* whole frame, every frame: no motion gate;
* before (the service until now): motion gate, but the whole frame is detected whenever
  there is motion or any track;
* after: rtcc.analytics.gating with the default AnalyticsSettings (tiles around motion,
  full-frame refresh every 4 s, held tracks, 1 fps when quiet).

Scenes: vtest.avi (natural footage, people on a campus road all the time: a busy
street; 398 frames at 5 fps) with its hand-reviewed truth (bench/data/vtest-truth.txt):
person precision/recall at IoU >= 0.5 of the boxes fed to the tracker (held ones
included) and of the confirmed tracks each frame; and a quiet scene: vtest's empty
background (median of the footage) with sensor noise and a slow brightness drift, 60 s.

    .venv/bin/python bench/analytics_cost.py [--frames N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import cv2
import numpy as np

from rtcc.analytics import quality
from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import Box, Detection, Frame, ObjectClass
from rtcc.analytics.detectors import runtimes
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.detectors.objects import YoloTinyDetector
from rtcc.analytics.gating import DetectionGate
from rtcc.core.config import AnalyticsSettings

FPS = 5.0


class Recording(CameraAnalyser):
    """The service's analyser, keeping each frame's detections and confirmed tracks."""

    def __init__(self, detectors: DetectorSet) -> None:
        super().__init__(CameraSetup("cam_bench", "org_bench"), detectors)
        self.detected: dict[datetime, list[Box]] = {}
        self.tracked: dict[datetime, list[Box]] = {}
        self.cpu_s = 0.0
        self.offered = 0

    def _detect(self, frame: Frame, when: datetime | None = None) -> list[Detection]:
        found = super()._detect(frame, when)
        if when is not None:
            self.detected[when] = [d.box for d in found if d.cls is ObjectClass.PERSON]
        return found

    def run(self, frames: Iterable[tuple[datetime, Frame]]) -> None:
        for when, frame in frames:
            self.offered += 1
            started = time.process_time()
            self.process(when, frame)
            self.cpu_s += time.process_time() - started
            tracks = self._tracker.tracks
            self.tracked[when] = [
                t.box for t in tracks if t.last_time == when and t.cls is ObjectClass.PERSON
            ]


def scores(output: dict[datetime, list[Box]], truth: quality.Truth) -> tuple[float, float]:
    detected = [
        quality.FrameDetections(index, [Detection(ObjectClass.PERSON, 1.0, b) for b in boxes], [])
        for index, boxes in (
            (round((when - quality.T0).total_seconds() * 10), boxes)
            for when, boxes in output.items()
        )
    ]
    return quality.detection_scores(detected, truth)


def quiet_scene(background: Frame, seconds: float) -> list[tuple[datetime, Frame]]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(int(seconds * FPS)):
        drift = 6.0 * np.sin(i / (FPS * 20))
        noise = rng.normal(0.0, 2.0, background.shape)
        frame = np.clip(background.astype(np.float32) + noise + drift, 0, 255).astype(np.uint8)
        out.append((quality.T0 + timedelta(seconds=i / FPS), frame))
    return out


def modes(
    yolo: YoloTinyDetector, tiles: YoloTinyDetector, before: bool
) -> dict[str, Callable[[], DetectorSet]]:
    out: dict[str, Callable[[], DetectorSet]] = {
        "whole frame, every frame": lambda: DetectorSet(objects=yolo)
    }
    if before:
        out["before: motion gate, whole frame"] = lambda: DetectorSet(MotionDetector(), yolo)
    out["after: regions + rate (defaults)"] = lambda: DetectorSet(
        MotionDetector(), yolo, gate=DetectionGate(AnalyticsSettings(), [tiles])
    )
    return out


def forward_costs(runtime: str, precision: str, frame: Frame, tile: int) -> list[tuple[str, float]]:
    """CPU ms of one forward pass of the network alone, whole frame and tile (best of 3
    rounds of 40)."""
    rows = []
    for label, size in (("416x416 whole frame", 416), (f"{tile}x{tile} tile", tile)):
        net = YoloTinyDetector(input_size=size, runtime=runtime, precision=precision)._net
        blob = runtimes.to_blob(frame, size)
        for _ in range(5):
            net.run(blob)  # first-call allocation is not part of the figure
        best, runs = float("inf"), 40
        for _ in range(3):  # the best of 3 rounds: the VM's neighbours add noise
            started = time.process_time()
            for _ in range(runs):
                net.run(blob)
            best = min(best, (time.process_time() - started) / runs * 1000)
        rows.append((label, best))
    return rows


def main(limit: int | None, runtimes_wanted: list[str]) -> None:
    cv2.setNumThreads(1)
    truth = quality.load_truth()
    last = None if limit is None else (limit - 1) * quality.STEP
    busy = [(quality.time_of(i), f) for i, f in quality.frames(last_frame=last)]
    background = np.median(np.stack([f for _, f in busy[:: max(1, len(busy) // 40)]]), axis=0)
    quiet = quiet_scene(background.astype(np.uint8), 60.0)
    settings = AnalyticsSettings()
    present = [r for r in runtimes_wanted if runtimes.installed(r.split(":")[0])]
    missing = sorted(set(runtimes_wanted) - set(present))
    print(
        f"one thread, CPU time (process time) per frame offered at {FPS:g} fps; "
        f"busy: vtest.avi {busy[0][1].shape[1]}x{busy[0][1].shape[0]}, {len(busy)} frames; "
        f"quiet: 60 s background + noise; runtimes {', '.join(present)}"
        + (f" ({', '.join(missing)} not installed)" if missing else "")
    )
    print(
        "| runtime | mode | scene | CPU ms / frame | cameras / core at 5 fps | full / region / "
        "idle / rate-skipped frames | person P / R (detections) | P / R (tracks) |"
    )
    print("|---|---|---|---:|---:|---|---|---|")
    forward: dict[str, list[tuple[str, float]]] = {}
    for wanted in present:
        runtime, _, precision = wanted.partition(":")
        precision = precision or "native"
        yolo = YoloTinyDetector(
            input_size=settings.input_size, runtime=runtime, precision=precision
        )
        tiles = YoloTinyDetector(
            input_size=settings.tile_input, runtime=runtime, precision=precision
        )
        if not yolo.status().ready or yolo._net.fallback:
            reason = yolo.status().reason or yolo._net.fallback
            raise SystemExit(f"YOLOv3-tiny unavailable on {wanted}: {reason}")
        label = f"{runtime} {yolo.precision}"
        for name, make in modes(yolo, tiles, before=runtime == "opencv").items():
            for scene, frames in (("busy (vtest)", busy), ("quiet", quiet)):
                print(f"| {label} | {name} | {scene} | " + row(make(), scene, frames, truth))
        forward[label] = forward_costs(runtime, precision, busy[0][1], settings.tile_input)
    print()
    print("| forward pass (YOLOv3-tiny, one thread) | " + " | ".join(forward) + " |")
    print("|---|" + "---:|" * len(forward))
    labels = [label for label, _ in next(iter(forward.values()), [])]
    for i, label in enumerate(labels):
        cells = " | ".join(f"{forward[r][i][1]:.1f}" for r in forward)
        print(f"| {label}, CPU ms | {cells} |")


def row(
    detectors: DetectorSet,
    scene: str,
    frames: list[tuple[datetime, Frame]],
    truth: quality.Truth,
) -> str:
    analyser = Recording(detectors)
    analyser.run(frames)
    per_frame = analyser.cpu_s / analyser.offered
    gate = analyser.detectors.gate
    if gate is not None:
        g = gate.stats
        counts = f"{g.full_frames} / {g.region_frames} / {g.idle_frames} / {g.rate_skipped}"
    else:
        counts = f"{analyser.stats.frames - analyser.stats.idle_skipped} / 0 / "
        counts += f"{analyser.stats.idle_skipped} / 0"
    if scene.startswith("busy"):
        p1, r1 = scores(analyser.detected, truth)
        p2, r2 = scores(analyser.tracked, truth)
        quality_cells = f"{p1:.3f} / {r1:.3f} | {p2:.3f} / {r2:.3f}"
    else:
        found = sum(len(b) for b in analyser.detected.values())
        quality_cells = f"{found} boxes (none true) | -"
    cameras = 1.0 / (FPS * per_frame)
    return f"{per_frame * 1000:.1f} | {cameras:.1f} | {counts} | {quality_cells} |"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200, help="busy frames (398: all)")
    parser.add_argument(
        "--runtimes",
        default="opencv,onnxruntime,openvino:native,openvino:int8",
        help="comma-separated runtime[:precision] that run the network (default: all)",
    )
    args = parser.parse_args()
    main(args.frames, [r.strip() for r in args.runtimes.split(",") if r.strip()])
