"""A ByteTrack-style multi-object tracker with re-association. Pure: no clock, no I/O.

Each frame (time is a parameter): predict every track with a constant-velocity model,
match high-score detections to tracks by IoU (greedy, best pairs first), then match the
low-score detections to the tracks still unmatched (they keep occluded objects alive
without starting tracks from noise), start tracks from unmatched high-score detections,
and end tracks unseen for longer than ``max_age_s``. Classes never mix.

With appearances (``looks``: one HSV-histogram vector per detection, from
``rtcc.analytics.appearance``; optional) three more rules apply:
* an IoU pair whose appearances differ by more than ``appearance_gate`` is not matched
  (two people walking side by side do not swap identities);
* re-association: a confirmed track unseen for up to ``max_lost_s`` is "lost", not
  ended; an unmatched high-score detection near where it is predicted to be (centre
  within ``reid_motion`` box heights, widened with the time lost) that looks alike
  (distance <= ``reid_distance``) continues it, same id, no new track;
* merge: a new track about to be confirmed that is one object with a lost track (same
  test) is folded into it instead of being confirmed, so it yields no second event.
And with or without appearances, an unmatched person detection that overlaps (IoU above
``duplicate_iou``) a person box that confidently (score >= ``high_score``) continued a
track this frame starts no track: it is a second box on someone already followed (the
upper body next to the whole person, one box for a pair beside the box for one of them),
and such short-lived tracks were the commonest extra track ids per person on natural
footage. Only ``duplicate_classes`` (people) — overlapping parked or queued vehicles are
distinct objects and it was not measured for them.
The thresholds are chosen by the natural-footage harness (bench/tracker_grid.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rtcc.analytics import appearance as looks_
from rtcc.analytics.appearance import Appearance
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
    # Moving average of the object's appearance (None without looks).
    look: Appearance | None = None
    # Times it was picked up again after being lost, and tracks folded into it.
    reassociations: int = 0

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
        # Chosen by bench/tracker_grid.py on natural footage (bench/data/tracker-grid.txt).
        max_lost_s: float = 1.5,
        appearance_gate: float = 0.25,
        reid_distance: float = 0.3,
        reid_motion: float = 0.5,
        duplicate_iou: float = 0.1,
        duplicate_classes: frozenset[ObjectClass] = frozenset({ObjectClass.PERSON}),
    ) -> None:
        self._high = high_score
        self._low = low_score
        self._match_iou = match_iou
        self._max_age_s = max_age_s
        self._min_hits = min_hits
        self._alpha = velocity_smoothing
        # Without looks nothing can be re-associated: tracks end after max_age_s.
        self._max_lost_s = max(max_lost_s, max_age_s)
        self._gate = appearance_gate
        self._reid_distance = reid_distance
        self._reid_motion = reid_motion
        self._duplicate_iou = duplicate_iou
        self._duplicate_classes = duplicate_classes
        self._tracks: list[Track] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        """Confirmed tracks still alive."""
        return [t for t in self._tracks if t.hits >= self._min_hits]

    def update(
        self,
        detections: list[Detection],
        time: datetime,
        looks: Sequence[Appearance | None] | None = None,
    ) -> TrackerUpdate:
        """One analysed frame; ``looks`` (optional) are the detections' appearances."""
        seen = list(looks) if looks is not None else [None] * len(detections)
        if len(seen) != len(detections):
            raise ValueError("looks must have one entry per detection")
        pairs = list(zip(detections, seen, strict=True))
        high = [p for p in pairs if p[0].confidence >= self._high]
        low = [p for p in pairs if self._low <= p[0].confidence < self._high]
        recent = [t for t in self._tracks if self._age(t, time) <= self._max_age_s]
        lost = [t for t in self._tracks if self._age(t, time) > self._max_age_s]
        predictions = {t.id: t.predicted(time) for t in self._tracks}
        unmatched_tracks, unmatched_high = self._associate(recent, high, predictions, time)
        unmatched_tracks, _ = self._associate(unmatched_tracks, low, predictions, time)
        lost += unmatched_tracks
        unmatched_high = self._reassociate(lost, unmatched_high, predictions, time)
        confirming = [t for t in self._tracks if t.hits == self._min_hits and t.last_time == time]
        started = [t for t in confirming if not self._merge(t, time)]
        followed = [t for t in self._tracks if t.last_time == time and t.confidence >= self._high]
        for detection, look in unmatched_high:
            if not self._duplicate(detection, followed):
                self._tracks.append(self._new_track(detection, look, time))
        if self._min_hits <= 1:
            started += [t for t in self._tracks if t.hits == 1 and t.last_time == time]
        limit = {True: self._max_lost_s, False: self._max_age_s}
        ended = [
            t
            for t in self._tracks
            if self._age(t, time) > limit[t.look is not None and t.hits >= self._min_hits]
        ]
        ended_ids = {t.id for t in ended}
        self._tracks = [t for t in self._tracks if t.id not in ended_ids]
        confirmed_ended = [t for t in ended if t.hits >= self._min_hits]
        return TrackerUpdate(started, confirmed_ended, self.tracks)

    def _duplicate(self, detection: Detection, followed: list[Track]) -> bool:
        """Whether ``detection`` overlaps a box of its class that continued a track now."""
        if detection.cls not in self._duplicate_classes:
            return False
        return any(
            t.cls == detection.cls and box_iou(t.box, detection.box) > self._duplicate_iou
            for t in followed
        )

    @staticmethod
    def _age(track: Track, time: datetime) -> float:
        return (time - track.last_time).total_seconds()

    def _alike(self, track: Track, look: Appearance | None, limit: float) -> bool:
        if track.look is None or look is None:
            return True
        return looks_.distance(track.look, look) <= limit

    def _near(self, track: Track, box: Box, predicted: Box, lost_s: float) -> float | None:
        """Centre distance to the prediction in box heights, if within the motion gate."""
        height = max(1.0, track.box[3] - track.box[1])
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        px, py = (predicted[0] + predicted[2]) / 2, (predicted[1] + predicted[3]) / 2
        distance = math.hypot(cx - px, cy - py) / height
        size = (box[3] - box[1]) / height
        if distance > self._reid_motion * (1.0 + lost_s) or not 0.5 <= size <= 2.0:
            return None
        return distance

    def _reassociate(
        self,
        lost: list[Track],
        detections: list[tuple[Detection, Appearance | None]],
        predictions: dict[int, Box],
        time: datetime,
    ) -> list[tuple[Detection, Appearance | None]]:
        """Lost confirmed tracks picked up by unmatched detections (appearance + motion)."""
        candidates = []
        for ti, track in enumerate(lost):
            if track.look is None or track.hits < self._min_hits:
                continue
            lost_s = self._age(track, time)
            # Bounded extrapolation: a lost object does not fly off at its last speed.
            predicted = track.predicted(min(time, track.last_time + _seconds(1.0)))
            for di, (detection, look) in enumerate(detections):
                if detection.cls != track.cls or look is None:
                    continue
                near = self._near(track, detection.box, predicted, lost_s)
                if near is None:
                    continue
                distance = looks_.distance(track.look, look)
                if distance <= self._reid_distance:
                    candidates.append((distance + 0.1 * near, ti, di))
        used_tracks: set[int] = set()
        used: set[int] = set()
        for _, ti, di in sorted(candidates):
            if ti in used_tracks or di in used:
                continue
            used_tracks.add(ti)
            used.add(di)
            lost[ti].reassociations += 1
            self._extend(lost[ti], detections[di][0], detections[di][1], time)
        del predictions  # predictions are per-frame; re-association uses its own
        return [d for i, d in enumerate(detections) if i not in used]

    def _merge(self, young: Track, time: datetime) -> bool:
        """Fold a track about to be confirmed into a lost track that is the same object."""
        if young.look is None:
            return False
        best: tuple[float, Track] | None = None
        for track in self._tracks:
            if track is young or track.cls != young.cls or track.hits < self._min_hits:
                continue
            if track.last_time >= young.start_time or track.look is None:
                continue
            lost_s = (young.start_time - track.last_time).total_seconds()
            if lost_s > self._max_lost_s:
                continue
            predicted = track.predicted(min(young.start_time, track.last_time + _seconds(1.0)))
            near = self._near(track, young.path[0][1], predicted, lost_s)
            distance = looks_.distance(track.look, young.look)
            if near is not None and distance <= self._reid_distance:
                score = distance + 0.1 * near
                if best is None or score < best[0]:
                    best = (score, track)
        if best is None:
            return False
        old = best[1]
        old.path += young.path
        old.box, old.velocity = young.box, young.velocity
        old.confidence, old.last_time = young.confidence, young.last_time
        old.best_confidence = max(old.best_confidence, young.best_confidence)
        old.hits += young.hits
        old.last_detection = young.last_detection
        old.look = looks_.blend(old.look, young.look, 0.5)
        old.reassociations += 1
        self._tracks.remove(young)
        return True

    def finish(self) -> list[Track]:
        """End every track (the stream stopped); returns the confirmed ones."""
        ended, self._tracks = self.tracks, []
        return ended

    def _associate(
        self,
        tracks: list[Track],
        detections: list[tuple[Detection, Appearance | None]],
        predictions: dict[int, Box],
        time: datetime,
    ) -> tuple[list[Track], list[tuple[Detection, Appearance | None]]]:
        pairs = sorted(
            (
                (box_iou(predictions[t.id], d.box), ti, di)
                for ti, t in enumerate(tracks)
                for di, (d, look) in enumerate(detections)
                if t.cls == d.cls and self._alike(t, look, self._gate)
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
            self._extend(tracks[ti], detections[di][0], detections[di][1], time)
        return (
            [t for i, t in enumerate(tracks) if i not in used_tracks],
            [d for i, d in enumerate(detections) if i not in used_detections],
        )

    def _extend(
        self, track: Track, detection: Detection, look: Appearance | None, time: datetime
    ) -> None:
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
        track.look = looks_.blend(track.look, look)

    def _new_track(self, detection: Detection, look: Appearance | None, time: datetime) -> Track:
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
            look=look,
        )
        self._next_id += 1
        return track


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
