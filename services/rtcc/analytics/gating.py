"""Detection at a city's cost: detect where the motion gate sees change, at a rate that
follows the camera's activity.

Per analysed frame (``DetectionGate.detect``):
* a whole-frame detection when one is due (the first frame, then every
  ``full_frame_every_s``) or when the moving regions would cost more than
  ``tile_budget`` of one;
* otherwise the object detector runs only on *tiles* around the motion regions. A tile
  is a fixed input (``tile_input`` px square, so the net never changes shape: a shape
  change costs cv2.dnn more than the forward pass) covering ``tile_input / input_size``
  of the frame on each axis, i.e. the detector sees objects at exactly the scale of a
  whole-frame pass, and recall stays the same. Regions are padded for context, grouped
  into as few tiles as fit, detections cut by a tile's inner edge are dropped and
  overlapping tiles' duplicates removed;
* no motion at all: no detector runs;
* motionless tracked objects outside every examined area are *held* in place (a detection at
  their last box, flagged ``held``), so stationary objects keep their tracks (and zone
  dwell) without being detected again, until the next whole-frame refresh (plus
  ``hold_s``) since a detector saw them.

``admit`` is the rate: a camera without motion and tracks for ``quiet_after_s`` is
analysed at ``quiet_fps``; any motion brings the configured rate back at once.

Pure logic apart from the detectors it is given; the clock is the frames' capture time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from rtcc.analytics.detection import Box, Detection, Detector, Frame, box_area, box_iou
from rtcc.core.config import AnalyticsSettings

HELD = "held"  # attribute of a detection that holds a track in place (not a detector's)


class Tracked(Protocol):
    """What the gate reads of a track (``rtcc.analytics.tracker.Track``)."""

    @property
    def id(self) -> int: ...
    @property
    def box(self) -> Box: ...
    @property
    def confidence(self) -> float: ...
    @property
    def last_time(self) -> datetime: ...
    @property
    def last_detection(self) -> Detection | None: ...
    @property
    def velocity(self) -> tuple[float, float, float, float]: ...


def still(track: Tracked, share: float = 0.25) -> bool:
    """Whether the track's centre moves less than ``share`` of its height per second."""
    v = track.velocity
    speed = math.hypot((v[0] + v[2]) / 2, (v[1] + v[3]) / 2)
    return speed <= share * max(1.0, track.box[3] - track.box[1])


@dataclass
class GateStats:
    admitted: int = 0
    rate_skipped: int = 0
    full_frames: int = 0
    region_frames: int = 0
    idle_frames: int = 0
    tiles: int = 0
    held: int = 0


def tile_extent(width: int, height: int, tile_input: int, input_size: int) -> tuple[float, float]:
    """Frame pixels one tile covers: the whole frame's scale on each axis."""
    return tile_input * width / input_size, tile_input * height / input_size


def pad_box(box: Box, padding: float, width: int, height: int, minimum: float = 8.0) -> Box:
    """``box`` grown on every side by ``padding`` times its smaller side (>= ``minimum``)."""
    side = min(box[2] - box[0], box[3] - box[1])
    dx = dy = max(minimum, side * padding)
    return (
        max(0.0, box[0] - dx),
        max(0.0, box[1] - dy),
        min(float(width), box[2] + dx),
        min(float(height), box[3] + dy),
    )


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _split(box: Box, tile_w: float, tile_h: float) -> list[Box]:
    """``box`` as pieces of at most a tile each, overlapping by a third of a tile."""
    pieces = []
    xs = _starts(box[0], box[2], tile_w)
    ys = _starts(box[1], box[3], tile_h)
    for x in xs:
        for y in ys:
            pieces.append((x, y, min(box[2], x + tile_w), min(box[3], y + tile_h)))
    return pieces


def _starts(low: float, high: float, size: float) -> list[float]:
    if high - low <= size:
        return [low]
    step = size * 2 / 3
    count = math.ceil((high - low - size) / step) + 1
    stride = (high - low - size) / (count - 1)
    return [low + k * stride for k in range(count)]


def _fits(box: Box, tile_w: float, tile_h: float) -> bool:
    return box[2] - box[0] <= tile_w and box[3] - box[1] <= tile_h


def plan_tiles(
    width: int,
    height: int,
    regions: Sequence[Box],
    tile_w: float,
    tile_h: float,
    *,
    padding: float = 0.5,
) -> list[Box] | None:
    """Tiles (frame pixels, each exactly ``tile_w`` x ``tile_h``, inside the frame)
    covering every padded region; ``None`` when a whole frame is needed instead (a tile
    as large as the frame). A region larger than a tile is covered by a grid of tiles
    that overlap by a third of a tile, so an object up to that size lies whole in one."""
    if tile_w >= width and tile_h >= height:
        return None
    groups: list[Box] = []
    for region in regions:
        groups += _split(pad_box(region, padding, width, height), tile_w, tile_h)
    # Agglomerate: merge the pair whose union is smallest while it still fits one tile.
    while len(groups) > 1:
        best: tuple[float, int, int] | None = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                merged = _union(groups[i], groups[j])
                if _fits(merged, tile_w, tile_h):
                    area = box_area(merged)
                    if best is None or area < best[0]:
                        best = (area, i, j)
        if best is None:
            break
        _, i, j = best
        groups[i] = _union(groups[i], groups[j])
        del groups[j]
    tiles = []
    for g in groups:
        cx, cy = (g[0] + g[2]) / 2, (g[1] + g[3]) / 2
        tw, th = min(tile_w, float(width)), min(tile_h, float(height))
        x1 = min(max(0.0, cx - tw / 2), width - tw)
        y1 = min(max(0.0, cy - th / 2), height - th)
        tiles.append((x1, y1, x1 + tw, y1 + th))
    return tiles


def cut_by_tile(box: Box, tile: Box, width: int, height: int, margin: float = 2.0) -> bool:
    """Whether ``box`` touches an edge of ``tile`` that is not the frame's edge."""
    return (
        (tile[0] > 0 and box[0] <= tile[0] + margin)
        or (tile[1] > 0 and box[1] <= tile[1] + margin)
        or (tile[2] < width and box[2] >= tile[2] - margin)
        or (tile[3] < height and box[3] >= tile[3] - margin)
    )


def dedupe(detections: Sequence[Detection], iou: float = 0.5) -> list[Detection]:
    """One detection per object where tiles overlapped: the most confident of a class."""
    kept: list[Detection] = []
    for d in sorted(detections, key=lambda d: -d.confidence):
        if all(k.cls != d.cls or box_iou(k.box, d.box) < iou for k in kept):
            kept.append(d)
    return kept


def covered(box: Box, areas: Sequence[Box], share: float = 0.5) -> bool:
    """Whether at least ``share`` of ``box`` lies inside one of ``areas``."""
    area = box_area(box)
    if area <= 0:
        return False
    for a in areas:
        ix = max(0.0, min(a[2], box[2]) - max(a[0], box[0]))
        iy = max(0.0, min(a[3], box[3]) - max(a[1], box[1]))
        if ix * iy >= share * area:
            return True
    return False


class RateGovernor:
    """Frames a camera analyses: every one while active, ``quiet_fps`` once quiet."""

    def __init__(self, quiet_fps: float, quiet_after_s: float) -> None:
        self._interval = 1.0 / quiet_fps if quiet_fps > 0 else 0.0
        self._quiet_after_s = quiet_after_s
        self._active: datetime | None = None
        self._admitted: datetime | None = None

    def admit(self, when: datetime) -> bool:
        if self._active is None:
            self._active = when  # a camera starts active
        quiet = (when - self._active).total_seconds() >= self._quiet_after_s
        if (
            quiet
            and self._interval > 0
            and self._admitted is not None
            and 0 <= (when - self._admitted).total_seconds() < self._interval
        ):
            return False
        self._admitted = when
        return True

    def quiet(self, when: datetime) -> bool:
        return self._active is not None and (
            (when - self._active).total_seconds() >= self._quiet_after_s
        )

    def activity(self, when: datetime) -> None:
        """Motion or tracks were seen at ``when``: the configured rate again."""
        self._active = when

    @property
    def quiet_interval_s(self) -> float:
        return self._interval


@dataclass
class DetectionGate:
    """One camera's gate (stateful: rate, refresh clock, when tracks were last seen)."""

    settings: AnalyticsSettings
    # Detectors for tiles (tile_input-sized YOLO, faces); the whole-frame ones are
    # given to ``detect``.
    tile_detectors: list[Detector] = field(default_factory=list)
    stats: GateStats = field(default_factory=GateStats)

    def __post_init__(self) -> None:
        self._rate = RateGovernor(self.settings.quiet_fps, self.settings.quiet_after_s)
        self._last_full: datetime | None = None
        self._started: datetime | None = None
        self._previous: datetime | None = None
        self._live = False  # a detector (not a hold) saw a track on the last frame
        # A whole frame found objects no track explains: the next one is whole too, so
        # the tracker (2 hits) confirms them even if they never move.
        self._confirm = False
        self._seen: dict[int, datetime] = {}

    def admit(self, when: datetime, tracking: bool) -> bool:
        """Whether to analyse the frame captured at ``when`` (``tracking``: tracks alive;
        they count as activity while a detector sees them move, not while still or held)."""
        if tracking and self._live:
            self._rate.activity(when)
        if self._rate.admit(when):
            self.stats.admitted += 1
            return True
        self.stats.rate_skipped += 1
        return False

    def detect(
        self,
        frame: Frame,
        when: datetime,
        *,
        motion: Detector | None,
        full: Sequence[Detector],
        tracks: Sequence[Tracked],
    ) -> list[Detection]:
        """This frame's detections (frame pixels), held tracks included."""
        height, width = frame.shape[:2]
        moving = motion.detect(frame) if motion is not None else None
        if moving:
            self._rate.activity(when)
        areas: list[Box]
        found: list[Detection]
        tiles = self._tiles(width, height, moving, when)
        if tiles is None:
            self.stats.full_frames += 1
            self._last_full = when
            found = [d for det in full if det.status().ready for d in det.detect(frame)]
            areas = [(0.0, 0.0, float(width), float(height))]
            self._confirm = not self._confirm and any(
                all(box_iou(d.box, t.box) < 0.3 for t in tracks) for d in found
            )
        else:
            found = self._detect_tiles(frame, tiles)
            areas = tiles
            if tiles:
                self.stats.region_frames += 1
                self.stats.tiles += len(tiles)
            else:
                self.stats.idle_frames += 1
        held = self._hold(tracks, areas, when)
        self._previous = when
        return found + held

    def _tiles(
        self, width: int, height: int, moving: list[Detection] | None, when: datetime
    ) -> list[Box] | None:
        s = self.settings
        if self._started is None or when < self._started:
            self._started = when
        warming = (when - self._started).total_seconds() < s.motion_warmup_s
        if moving is None or not s.region_detection or self._last_full is None or warming:
            return None
        if self._confirm:
            return None
        every = self._every(when)
        if every > 0 and (
            (when - self._last_full).total_seconds() >= every or when < self._last_full
        ):
            return None
        if not moving:
            return []
        tile_w, tile_h = tile_extent(width, height, s.tile_input, s.input_size)
        tiles = plan_tiles(
            width, height, [m.box for m in moving], tile_w, tile_h, padding=s.region_padding
        )
        if tiles is None or len(tiles) * s.tile_cost > s.tile_budget:
            return None
        return tiles

    def _every(self, when: datetime) -> float:
        """Seconds between whole-frame refreshes now (longer while quiet); 0: none."""
        every = self.settings.full_frame_every_s
        if every > 0 and self._rate.quiet(when):
            every = max(every, self.settings.quiet_full_frame_every_s)
        return every

    def _detect_tiles(self, frame: Frame, tiles: list[Box]) -> list[Detection]:
        height, width = frame.shape[:2]
        found: list[Detection] = []
        for tile in tiles:
            x1, y1 = round(tile[0]), round(tile[1])
            x2, y2 = min(width, round(tile[2])), min(height, round(tile[3]))
            crop = frame[y1:y2, x1:x2]
            for detector in self.tile_detectors:
                if not detector.status().ready:
                    continue
                for d in detector.detect(crop):
                    box = (d.box[0] + x1, d.box[1] + y1, d.box[2] + x1, d.box[3] + y1)
                    if not cut_by_tile(box, (x1, y1, x2, y2), width, height):
                        found.append(replace(d, box=box))
        return dedupe(found) if len(tiles) > 1 else found

    def _hold(self, tracks: Sequence[Tracked], areas: list[Box], when: datetime) -> list[Detection]:
        alive = {t.id for t in tracks}
        self._seen = {i: t for i, t in self._seen.items() if i in alive}
        held: list[Detection] = []
        limit = self.settings.hold_s + self._every(when)
        self._live = False
        for track in tracks:
            last = track.last_detection
            if last is not None and not last.attributes.get(HELD):
                self._seen[track.id] = track.last_time
                moved = track.last_time == self._previous and not still(track)
                self._live = self._live or moved
            seen = self._seen.get(track.id)
            if last is None or seen is None or covered(track.box, areas):
                continue  # examined this frame: the detector had its chance
            if not still(track):
                continue  # a moving object the motion gate missed: the tracker predicts it
            if (when - seen).total_seconds() > limit:
                continue
            attributes = {**last.attributes, HELD: True}
            held.append(Detection(last.cls, track.confidence, track.box, attributes))
        self.stats.held += len(held)
        return held
