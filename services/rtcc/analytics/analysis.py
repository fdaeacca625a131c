"""One camera's frame-by-frame analysis: detectors -> masks -> tracker -> rules -> events.

Synchronous and single-threaded on purpose: the pipeline runs it in the camera's own
worker thread, and tests drive it frame by frame. The clock is the frames' capture time.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field
from datetime import datetime

import cv2

from rtcc.analytics import appearance
from rtcc.analytics.attributes import describe
from rtcc.analytics.detection import (
    Detection,
    Detector,
    Frame,
    ObjectClass,
    RegionReader,
    valid_frame,
)
from rtcc.analytics.detectors.motion import MotionDetector
from rtcc.analytics.events import DetectedEvent
from rtcc.analytics.gating import DetectionGate
from rtcc.analytics.geometry import Polygon
from rtcc.analytics.masks import blank_masked, blur_boxes, outside_masks
from rtcc.analytics.records import EventRecord
from rtcc.analytics.rules import Line, RuleEngine, RuleEvent, Zone
from rtcc.analytics.track_events import EventFactory
from rtcc.analytics.tracker import ByteTracker, Track

# A plate read at least this sure is not read again for the same track.
_SURE_PLATE = 0.9
# Classes whose appearance (HSV histograms) the tracker uses to re-associate them.
_WITH_LOOKS = frozenset({ObjectClass.PERSON, ObjectClass.VEHICLE, ObjectClass.BICYCLE})


@dataclass(frozen=True)
class CameraSetup:
    """What analysis needs to know about a camera."""

    camera_id: str
    organization_id: str
    zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()
    # Registry privacy masks plus the config's exclusions, normalised.
    masks: tuple[Polygon, ...] = ()
    min_confidence: float = 0.5
    # Blur detected faces in snapshots (privacy); events keep the face boxes.
    redact_faces: bool = False
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class DetectorSet:
    """The detectors of one camera; any may be absent."""

    motion: MotionDetector | None = None
    objects: Detector | None = None
    plates: RegionReader | None = None
    faces: Detector | None = None
    # Region detection and activity-driven rate (rtcc.analytics.gating); None: every
    # admitted frame whole, as before.
    gate: DetectionGate | None = None

    def all(self) -> list[Detector]:
        found = [self.motion, self.objects, self.plates, self.faces]
        return [d for d in found if d is not None]


@dataclass
class AnalysisStats:
    frames: int = 0
    corrupt: int = 0
    idle_skipped: int = 0
    resolution_changes: int = 0
    events: int = 0
    detect_seconds: float = 0.0


@dataclass
class _TrackState:
    attributes: dict[str, str] = field(default_factory=dict)
    plates: set[str] = field(default_factory=set)
    best_plate_confidence: float = 0.0


class CameraAnalyser:
    """Turns one camera's frames into events."""

    def __init__(self, setup: CameraSetup, detectors: DetectorSet) -> None:
        self.setup = setup
        self.detectors = detectors
        self.stats = AnalysisStats()
        self._tracker = ByteTracker(high_score=setup.min_confidence)
        self._rules = RuleEngine(list(setup.zones), list(setup.lines))
        self._factory = EventFactory(setup)
        self._tracks: dict[int, _TrackState] = {}
        self._shape: tuple[int, int] | None = None

    def process(self, capture_time: datetime, frame: Frame) -> list[DetectedEvent]:
        """Analyse one frame; corrupt frames are counted and skipped."""
        if not valid_frame(frame):
            self.stats.corrupt += 1
            return []
        gate = self.detectors.gate
        if gate is not None and not gate.admit(capture_time, bool(self._tracker.tracks)):
            return []  # a quiet camera: analysed at the gate's lower rate
        self.stats.frames += 1
        started = clock.perf_counter()
        height, width = frame.shape[:2]
        produced: list[DetectedEvent] = []
        if self._shape is not None and self._shape != (height, width):
            # Boxes of the old resolution mean nothing in the new one: end every track.
            self.stats.resolution_changes += 1
            produced += self.finish()
        self._shape = (height, width)
        masked = blank_masked(frame, self.setup.masks)
        detections = self._detect(masked, capture_time)
        detections = outside_masks(detections, self.setup.masks, width, height)
        looks = [
            appearance.describe(masked, d.box) if d.cls in _WITH_LOOKS else None for d in detections
        ]
        update = self._tracker.update(detections, capture_time, looks)
        snapshot = _Snapshot(self._redacted(masked, detections))
        for track in update.started:
            produced.append(self._appeared(track, masked, snapshot))
        seen = [t for t in update.active if t.last_time == capture_time]
        for rule in self._rules.update(seen, width, height):
            produced.append(self._rule_event(rule, seen, width, height, snapshot))
        produced += self._plates(masked, seen, snapshot)
        for track in update.ended:
            produced += self._end(track, width, height)
        self.stats.detect_seconds += clock.perf_counter() - started
        self.stats.events += len(produced)
        return produced

    def finish(self) -> list[DetectedEvent]:
        """End every track (stream over or resolution change); their exit events."""
        produced: list[DetectedEvent] = []
        if self._shape is None:
            return produced
        height, width = self._shape
        for track in self._tracker.finish():
            produced += self._end(track, width, height)
        return produced

    def _redacted(self, frame: Frame, detections: list[Detection]) -> Frame:
        faces = [d.box for d in detections if d.cls is ObjectClass.FACE]
        return blur_boxes(frame, faces) if self.setup.redact_faces and faces else frame

    def _detect(self, frame: Frame, when: datetime | None = None) -> list[Detection]:
        motion = self.detectors.motion
        if self.detectors.gate is not None and when is not None:
            full = [d for d in (self.detectors.objects, self.detectors.faces) if d is not None]
            tracks = self._tracker.tracks
            return self.detectors.gate.detect(frame, when, motion=motion, full=full, tracks=tracks)
        if motion is not None and not motion.detect(frame) and not self._tracker.tracks:
            self.stats.idle_skipped += 1
            return []
        found: list[Detection] = []
        for detector in (self.detectors.objects, self.detectors.faces):
            if detector is not None and detector.status().ready:
                found += detector.detect(frame)
        return found

    def _appeared(self, track: Track, frame: Frame, snapshot: _Snapshot) -> DetectedEvent:
        state = self._tracks.setdefault(track.id, _TrackState())
        if track.last_detection is not None:
            state.attributes = describe(frame, track.last_detection)
        kind = "face_detected" if track.cls is ObjectClass.FACE else "object_appeared"
        record = self._factory.track_event(kind, track, frame.shape, state.attributes)
        if track.look is not None:  # for cross-camera search (rtcc.analytics.similar)
            record.attributes["appearance"] = appearance.encode(track.look)
        return DetectedEvent(record, snapshot_jpeg=snapshot.jpeg())

    def _rule_event(
        self, rule: RuleEvent, tracks: list[Track], width: int, height: int, snapshot: _Snapshot
    ) -> DetectedEvent:
        track = next(t for t in tracks if t.id == rule.track_id)
        state = self._tracks.setdefault(track.id, _TrackState())
        record = self._factory.rule_event(rule, track, (height, width), state.attributes)
        return DetectedEvent(record, snapshot_jpeg=snapshot.jpeg())

    def _plates(
        self, frame: Frame, tracks: list[Track], snapshot: _Snapshot
    ) -> list[DetectedEvent]:
        reader = self.detectors.plates
        if reader is None or not reader.status().ready:
            return []
        produced: list[DetectedEvent] = []
        for track in tracks:
            if track.cls is not ObjectClass.VEHICLE or _at_edge(track.box, frame.shape):
                continue  # a vehicle cut by the frame's edge shows a cut plate: wait
            state = self._tracks.setdefault(track.id, _TrackState())
            if state.best_plate_confidence >= _SURE_PLATE:
                continue  # read well already: spare the OCR for other vehicles
            for read in reader.detect_in(frame, [track.box]):
                plate = str(read.attributes["plate"])
                state.best_plate_confidence = max(state.best_plate_confidence, read.confidence)
                if plate in state.plates:
                    continue
                state.plates.add(plate)
                record, plate_read = self._factory.plate_event(
                    track, read, frame.shape, state.attributes
                )
                produced.append(DetectedEvent(record, plate_read, snapshot.jpeg()))
        return produced

    def _end(self, track: Track, width: int, height: int) -> list[DetectedEvent]:
        state = self._tracks.pop(track.id, _TrackState())
        produced: list[DetectedEvent] = []
        for rule in self._rules.end(track):
            record: EventRecord = self._factory.rule_event(
                rule, track, (height, width), state.attributes
            )
            produced.append(DetectedEvent(record))
        return produced


def _at_edge(box: tuple[float, float, float, float], shape: tuple[int, ...]) -> bool:
    margin = 2.0
    return box[0] <= margin or box[2] >= shape[1] - margin


class _Snapshot:
    """The frame as JPEG, encoded at most once however many events share it."""

    def __init__(self, frame: Frame) -> None:
        self._frame = frame
        self._jpeg: bytes | None = None

    def jpeg(self) -> bytes:
        if self._jpeg is None:
            ok, encoded = cv2.imencode(".jpg", self._frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
            self._jpeg = encoded.tobytes() if ok else b""
        return self._jpeg
