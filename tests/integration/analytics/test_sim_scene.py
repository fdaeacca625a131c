"""Analysis of the camera simulator's rendered scene (H.264 sub stream) against its
ground truth: tracks per actor, plates read exactly, the intruder's zone entry.

Detection here uses a scene-difference stand-in (the simulator draws flat rectangles,
which YOLO rightly does not call people or cars); everything after detection — privacy
mask over the burned-in clock, tracker, rules, RapidOCR plate reading — runs for real
on the decoded, compressed video.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import READY, Detection, DetectorHealth, Frame, ObjectClass
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.events import DetectedEvent
from rtcc.analytics.records import CLASS_CODES, EVENT_TYPE_CODES
from rtcc.analytics.rules import Zone

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
STEP = 3  # 15 fps rendered, analysed at 5 fps
CLOCK_MASK = ((0.0, 0.0), (0.33, 0.0), (0.33, 0.1), (0.0, 0.1))


class SceneDifferenceDetector:
    """Solid blobs that differ from the scene's static background (its per-pixel median
    over the clip, as a background model learns it): taller than wide is a person.
    Blobs cut by the left or right edge are left out until whole."""

    name = "scene-difference"

    def __init__(self, background: Frame) -> None:
        self._background = background.astype(np.int16)

    def status(self) -> DetectorHealth:
        return READY

    def detect(self, frame: Frame) -> list[Detection]:
        diff = np.abs(frame.astype(np.int16) - self._background).sum(axis=2)
        mask = cv2.morphologyEx((diff > 70).astype(np.uint8) * 255, cv2.MORPH_OPEN, _KERNEL)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < 150 or x <= 1 or x + w >= frame.shape[1] - 1:
                continue
            person = h > w
            cls = ObjectClass.PERSON if person else ObjectClass.VEHICLE
            attributes = {} if person else {"vehicle_type": "car"}
            found.append(Detection(cls, 0.9, (x, y, x + w, y + h), attributes))
        return found


_KERNEL = np.ones((3, 3), np.uint8)


def _frames(video: Path) -> list[Frame]:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from rtcc.sim.render import render
    from rtcc.sim.scene import scene_for

    rendered = render(scene_for(0), tmp_path_factory.mktemp("sim"))
    return rendered.sub, json.loads(rendered.truth.read_text())


def _analyse(video: Path, truth: dict[str, Any]) -> list[DetectedEvent]:
    zx, zy, zw, zh = truth["zone"]["box"]
    width, height = truth["size"]
    corners = ((zx, zy), (zx + zw, zy), (zx + zw, zy + zh), (zx, zy + zh))
    zone = Zone(
        "restricted",
        tuple((x / width, y / height) for x, y in corners),
        frozenset({ObjectClass.PERSON}),
    )
    frames = _frames(video)
    background = np.median(np.stack(frames[::STEP]), axis=0).astype(np.uint8)
    setup = CameraSetup("cam_sim0", "org_sim", zones=(zone,), masks=(CLOCK_MASK,))
    detectors = DetectorSet(objects=SceneDifferenceDetector(background), plates=PlateDetector())
    analyser = CameraAnalyser(setup, detectors)
    events: list[DetectedEvent] = []
    for index in range(0, len(frames), STEP):
        when = T0 + timedelta(seconds=index / truth["fps"])
        events += analyser.process(when, frames[index])
    return events + analyser.finish()


def test_sim_scene_is_tracked_read_and_ruled_like_its_ground_truth(
    scene: tuple[Path, dict[str, Any]],
) -> None:
    video, truth = scene
    events = _analyse(video, truth)
    appeared = [e.event for e in events if e.event.type == EVENT_TYPE_CODES["object_appeared"]]
    people = [e for e in appeared if e.object_class == CLASS_CODES[ObjectClass.PERSON]]
    vehicles = [e for e in appeared if e.object_class == CLASS_CODES[ObjectClass.VEHICLE]]
    # 3 people and 2 vehicles; crossings may split a track, never more than once per actor.
    assert 3 <= len(people) <= 6
    assert 2 <= len(vehicles) <= 4

    read = {e.plate_read.plate for e in events if e.plate_read is not None}
    expected = {p["text"].replace(" ", "") for p in truth["plates"]}
    assert expected <= read, f"read {read}, expected {expected}"

    (intruder,) = [z for z in truth["zone_entries"] if z["object_id"] == "intruder"]
    entries = [
        (e.event.event_time - T0).total_seconds()
        for e in events
        if e.event.type == EVENT_TYPE_CODES["zone_entered"]
    ]
    assert any(abs(t - intruder["time_s"]) <= 1.0 for t in entries), entries
