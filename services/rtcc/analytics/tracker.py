"""A ByteTrack-style multi-object tracker. Pure: no clock, no I/O; time is a parameter.

Each frame: predict every track with a constant-velocity model, match high-score
detections to tracks by IoU (greedy, best pairs first), then match the low-score
detections to the tracks still unmatched (they keep occluded objects alive without
starting tracks from noise), start tracks from unmatched high-score detections, and
end tracks unseen for longer than ``max_age_s``. Classes never mix: a person's
detection cannot extend a car's track.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rtcc.analytics.detection import Box, Detection, ObjectClass, box_iou


@dataclass
class Track:
    """One object followed across frames."""

    id: int
    cls: ObjectClass
    box: Box
    confidence: float
    start_time: datetime
    last_time: datetime
    # (time, box) of every frame the object was detected in, oldest first.
    path: list[tuple[datetime, Box]] = field(default_factory=list)
    # Pixels per second, of the box's (x1, y1, x2, y2).
    velocity: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    hits: int = 1
    best_confidence: float = 0.0
    last_detection: Detection | None = None

    def predicted(self, time: datetime) -> Box:
        dt = max(0.0, (time - self.last_time).total_seconds())
        b, v = self.box, self.velocity
        return (b[0] + v[0] * dt, b[1] + v[1] * dt, b[2] + v[2] * dt, b[3] + v[3] * dt)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


@dataclass(frozen=True)
class TrackerUpdate:
    """What one frame did: tracks confirmed this frame, tracks ended, tracks alive."""

    started: list[Track]
    ended: list[Track]
    active: list[Track]


class ByteTracker:
    """Tracks objects of every class; ``update`` once per analysed frame, in time order."""

    def __init__(
        self,
        *,
        high_score: float = 0.5,
        low_score: float = 0.1,
        match_iou: float = 0.2,
        max_age_s: float = 1.5,
        min_hits: int = 2,
        velocity_smoothing: float = 0.5,
    ) -> None:
        self._high = high_score
        self._low = low_score
        self._match_iou = match_iou
        self._max_age_s = max_age_s
        self._min_hits = min_hits
        self._alpha = velocity_smoothing
        self._tracks: list[Track] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        """Confirmed tracks still alive."""
        return [t for t in self._tracks if t.hits >= self._min_hits]

    def update(self, detections: list[Detection], time: datetime) -> TrackerUpdate:
        high = [d for d in detections if d.confidence >= self._high]
        low = [d for d in detections if self._low <= d.confidence < self._high]
        predictions = {t.id: t.predicted(time) for t in self._tracks}
        unmatched_tracks, unmatched_high = self._associate(self._tracks, high, predictions, time)
        still_unmatched, _ = self._associate(unmatched_tracks, low, predictions, time)
        started = [t for t in self._tracks if t.hits == self._min_hits and t.last_time == time]
        for detection in unmatched_high:
            self._tracks.append(self._new_track(detection, time))
        if self._min_hits <= 1:
            started += [t for t in self._tracks if t.hits == 1 and t.last_time == time]
        ended = [
            t for t in still_unmatched if (time - t.last_time).total_seconds() > self._max_age_s
        ]
        ended_ids = {t.id for t in ended}
        self._tracks = [t for t in self._tracks if t.id not in ended_ids]
        confirmed_ended = [t for t in ended if t.hits >= self._min_hits]
        return TrackerUpdate(started, confirmed_ended, self.tracks)

    def finish(self) -> list[Track]:
        """End every track (the stream stopped); returns the confirmed ones."""
        ended, self._tracks = self.tracks, []
        return ended

    def _associate(
        self,
        tracks: list[Track],
        detections: list[Detection],
        predictions: dict[int, Box],
        time: datetime,
    ) -> tuple[list[Track], list[Detection]]:
        pairs = sorted(
            (
                (box_iou(predictions[t.id], d.box), ti, di)
                for ti, t in enumerate(tracks)
                for di, d in enumerate(detections)
                if t.cls == d.cls
            ),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_detections: set[int] = set()
        for iou, ti, di in pairs:
            if iou < self._match_iou:
                break
            if ti in used_tracks or di in used_detections:
                continue
            used_tracks.add(ti)
            used_detections.add(di)
            self._extend(tracks[ti], detections[di], time)
        return (
            [t for i, t in enumerate(tracks) if i not in used_tracks],
            [d for i, d in enumerate(detections) if i not in used_detections],
        )

    def _extend(self, track: Track, detection: Detection, time: datetime) -> None:
        dt = (time - track.last_time).total_seconds()
        if dt > 0:
            measured = tuple((n - o) / dt for n, o in zip(detection.box, track.box, strict=True))
            a = self._alpha
            track.velocity = tuple(  # type: ignore[assignment]
                a * m + (1 - a) * v for m, v in zip(measured, track.velocity, strict=True)
            )
        track.box = detection.box
        track.confidence = detection.confidence
        track.best_confidence = max(track.best_confidence, detection.confidence)
        track.last_time = time
        track.hits += 1
        track.path.append((time, detection.box))
        track.last_detection = detection

    def _new_track(self, detection: Detection, time: datetime) -> Track:
        track = Track(
            id=self._next_id,
            cls=detection.cls,
            box=detection.box,
            confidence=detection.confidence,
            start_time=time,
            last_time=time,
            path=[(time, detection.box)],
            best_confidence=detection.confidence,
            last_detection=detection,
        )
        self._next_id += 1
        return track
