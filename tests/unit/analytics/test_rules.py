"""Zone intrusion, line crossing with direction, loitering and schedules on tracks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rtcc.analytics.detection import ObjectClass
from rtcc.analytics.geometry import normalised_polygon
from rtcc.analytics.rules import Direction, Line, RuleEngine, RuleKind, Zone
from rtcc.analytics.schedule import Schedule, Window
from rtcc.analytics.tracker import Track
from rtcc.core.errors import InvalidArgument

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a Monday
W, H = 1000, 1000
RIGHT_HALF = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))


def _walk(engine: RuleEngine, xs: list[float], *, cls: ObjectClass = ObjectClass.PERSON,
          step_s: float = 1.0, start: datetime = T0) -> list:  # fmt: skip
    track = Track(1, cls, (0, 0, 0, 0), 0.9, start, start)
    events = []
    for i, x in enumerate(xs):
        track.box = (x * W - 10, 400, x * W + 10, 500)  # anchor y = 0.5
        track.last_time = start + timedelta(seconds=i * step_s)
        events += engine.update([track], W, H)
    return events + engine.end(track)


def test_zone_intrusion_fires_enter_then_exit() -> None:
    engine = RuleEngine([Zone("zon_a", RIGHT_HALF)], [])
    events = _walk(engine, [0.1, 0.3, 0.6, 0.8, 0.3])
    assert [e.kind for e in events] == [RuleKind.ZONE_ENTERED, RuleKind.ZONE_EXITED]
    assert events[0].time == T0 + timedelta(seconds=2)


def test_zone_ignores_other_classes() -> None:
    engine = RuleEngine([Zone("zon_a", RIGHT_HALF, frozenset({ObjectClass.VEHICLE}))], [])
    assert _walk(engine, [0.1, 0.6, 0.8]) == []


def test_zone_outside_its_schedule_fires_nothing() -> None:
    nights = Schedule("UTC", (Window(frozenset(), 22 * 60, 6 * 60),))
    engine = RuleEngine([Zone("zon_a", RIGHT_HALF, schedule=nights)], [])
    assert _walk(engine, [0.1, 0.6, 0.8]) == []
    engine = RuleEngine([Zone("zon_a", RIGHT_HALF, schedule=nights)], [])
    late = T0.replace(hour=23)
    assert next(e.kind for e in _walk(engine, [0.1, 0.6], start=late)) is RuleKind.ZONE_ENTERED


def test_loitering_fires_once_after_the_dwell_time() -> None:
    zone = Zone("zon_a", RIGHT_HALF, loiter_dwell=timedelta(seconds=10))
    engine = RuleEngine([zone], [])
    events = _walk(engine, [0.6] * 30)
    kinds = [e.kind for e in events]
    assert kinds.count(RuleKind.LOITERING) == 1
    loiter = next(e for e in events if e.kind is RuleKind.LOITERING)
    assert loiter.time - loiter.start_time == timedelta(seconds=10)


def test_short_stay_is_not_loitering() -> None:
    engine = RuleEngine([Zone("zon_a", RIGHT_HALF, loiter_dwell=timedelta(seconds=10))], [])
    assert RuleKind.LOITERING not in [e.kind for e in _walk(engine, [0.6] * 5 + [0.1])]


# A vertical line pointing down the image: looking from its start (top) towards its
# end (bottom), the image's right side (x > 0.5) is on the left.
DOWN = ((0.5, 0.0), (0.5, 1.0))


@pytest.mark.parametrize(
    ("xs", "expected"),
    [([0.4, 0.6], Direction.RIGHT_TO_LEFT), ([0.6, 0.4], Direction.LEFT_TO_RIGHT)],
)
def test_line_crossing_reports_its_direction(xs: list[float], expected: Direction) -> None:
    engine = RuleEngine([], [Line("lin_a", *DOWN)])
    (event,) = _walk(engine, xs)
    assert event.kind is RuleKind.LINE_CROSSED and event.direction is expected


def test_line_counts_only_its_configured_direction() -> None:
    engine = RuleEngine([], [Line("lin_a", *DOWN, direction=Direction.LEFT_TO_RIGHT)])
    events = _walk(engine, [0.3, 0.7, 0.3, 0.7, 0.3])
    assert len(events) == 2
    assert {e.direction for e in events} == {Direction.LEFT_TO_RIGHT}


def test_passing_beyond_the_end_of_a_line_is_no_crossing() -> None:
    engine = RuleEngine([], [Line("lin_a", (0.5, 0.0), (0.5, 0.3))])
    assert _walk(engine, [0.3, 0.7]) == []


def test_zone_outside_the_frame_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="outside the frame"):
        normalised_polygon([(0.1, 0.1), (1.5, 0.1), (0.5, 0.9)])
    with pytest.raises(InvalidArgument, match="at least 3"):
        normalised_polygon([(0.1, 0.1), (0.5, 0.9)])


def test_schedule_window_across_midnight_belongs_to_its_start_day() -> None:
    friday_nights = Schedule("America/Chicago", (Window(frozenset({5}), 22 * 60, 2 * 60),))
    saturday_1am_chicago = datetime(2026, 1, 10, 7, 0, tzinfo=UTC)
    sunday_1am_chicago = datetime(2026, 1, 11, 7, 0, tzinfo=UTC)
    assert friday_nights.active(saturday_1am_chicago)
    assert not friday_nights.active(sunday_1am_chicago)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="time zone"):
        Schedule("Mars/Olympus", ())
