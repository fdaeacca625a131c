"""Rules on tracks: zone intrusion, line crossing with direction, loitering. Pure.

A ``RuleEngine`` holds per-track memory (inside which zone since when, which side of
each line) and turns the tracker's view of each frame into rule events. Objects are
placed by their anchor: the bottom centre of the box, where they stand.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rtcc.analytics.detection import ObjectClass
from rtcc.analytics.geometry import Point, Polygon, anchor, contains, segments_intersect, side
from rtcc.analytics.schedule import Schedule
from rtcc.analytics.tracker import Track


class Direction(enum.StrEnum):
    ANY = "any"
    LEFT_TO_RIGHT = "left_to_right"
    RIGHT_TO_LEFT = "right_to_left"


class RuleKind(enum.StrEnum):
    ZONE_ENTERED = "zone_entered"
    ZONE_EXITED = "zone_exited"
    LOITERING = "loitering"
    LINE_CROSSED = "line_crossed"


@dataclass(frozen=True)
class Zone:
    id: str
    polygon: Polygon
    classes: frozenset[ObjectClass] = frozenset()
    loiter_dwell: timedelta | None = None
    schedule: Schedule | None = None


@dataclass(frozen=True)
class Line:
    id: str
    start: Point
    end: Point
    direction: Direction = Direction.ANY
    classes: frozenset[ObjectClass] = frozenset()
    schedule: Schedule | None = None


@dataclass(frozen=True)
class RuleEvent:
    kind: RuleKind
    track_id: int
    time: datetime
    # When the situation began: zone entry for loitering; ``time`` otherwise.
    start_time: datetime
    zone_id: str = ""
    line_id: str = ""
    direction: Direction | None = None


@dataclass
class _Memory:
    inside_since: dict[str, datetime] = field(default_factory=dict)
    loitered: set[str] = field(default_factory=set)
    last_point: Point | None = None


def _applies(classes: frozenset[ObjectClass], schedule: Schedule | None, track: Track) -> bool:
    return (not classes or track.cls in classes) and (
        schedule is None or schedule.active(track.last_time)
    )


class RuleEngine:
    """Evaluates one camera's zones and lines on its tracks, frame after frame."""

    def __init__(self, zones: list[Zone], lines: list[Line]) -> None:
        self.zones = zones
        self.lines = lines
        self._memory: dict[int, _Memory] = {}

    def update(self, tracks: list[Track], width: int, height: int) -> list[RuleEvent]:
        """Events for the tracks updated this frame (pass only tracks seen this frame)."""
        events: list[RuleEvent] = []
        for track in tracks:
            memory = self._memory.setdefault(track.id, _Memory())
            point = anchor(track.box, width, height)
            events += self._zones(track, memory, point)
            if memory.last_point is not None:
                events += self._lines(track, memory.last_point, point)
            memory.last_point = point
        return events

    def end(self, track: Track) -> list[RuleEvent]:
        """Forget a track that ended; it leaves every zone it was in."""
        memory = self._memory.pop(track.id, None)
        if memory is None:
            return []
        return [
            RuleEvent(RuleKind.ZONE_EXITED, track.id, track.last_time, since, zone_id=zone_id)
            for zone_id, since in memory.inside_since.items()
        ]

    def _zones(self, track: Track, memory: _Memory, point: Point) -> list[RuleEvent]:
        events: list[RuleEvent] = []
        now = track.last_time
        for zone in self.zones:
            inside = _applies(zone.classes, zone.schedule, track) and contains(zone.polygon, point)
            since = memory.inside_since.get(zone.id)
            if inside and since is None:
                memory.inside_since[zone.id] = now
                events.append(RuleEvent(RuleKind.ZONE_ENTERED, track.id, now, now, zone_id=zone.id))
            elif not inside and since is not None:
                del memory.inside_since[zone.id]
                memory.loitered.discard(zone.id)
                events.append(
                    RuleEvent(RuleKind.ZONE_EXITED, track.id, now, since, zone_id=zone.id)
                )
            elif (
                inside
                and since is not None
                and zone.loiter_dwell
                and zone.id not in memory.loitered
                and now - since >= zone.loiter_dwell
            ):
                memory.loitered.add(zone.id)
                events.append(RuleEvent(RuleKind.LOITERING, track.id, now, since, zone_id=zone.id))
        return events

    def _lines(self, track: Track, before: Point, after: Point) -> list[RuleEvent]:
        events: list[RuleEvent] = []
        for line in self.lines:
            if not _applies(line.classes, line.schedule, track):
                continue
            if not segments_intersect(before, after, line.start, line.end):
                continue
            was, now = side(line.start, line.end, before), side(line.start, line.end, after)
            if was < 0 < now:
                crossed = Direction.LEFT_TO_RIGHT
            elif now < 0 < was:
                crossed = Direction.RIGHT_TO_LEFT
            else:
                continue  # touched the line without changing sides
            if line.direction in (Direction.ANY, crossed):
                events.append(
                    RuleEvent(
                        RuleKind.LINE_CROSSED,
                        track.id,
                        track.last_time,
                        track.last_time,
                        line_id=line.id,
                        direction=crossed,
                    )
                )
        return events
