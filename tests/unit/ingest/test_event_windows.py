"""Which spooled segments an analytics event claims under event-only recording."""

from __future__ import annotations

import datetime as dt

from rtcc.ingest.event_windows import EventRollSettings, EventWindows, Verdict

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def windows() -> EventWindows:
    w = EventWindows(EventRollSettings(pre_roll_s=10, post_roll_s=20, grace_s=5))
    w.feed_since = T0 - dt.timedelta(hours=1)
    return w


def test_event_claims_segments_from_pre_roll_to_post_roll() -> None:
    w = windows()
    assert w.add("cam", at(100)) == (at(90), at(120))
    assert w.verdict("cam", at(86), at(90), at(200)) is Verdict.DROP  # ends as window opens
    assert w.verdict("cam", at(88), at(92), at(200)) is Verdict.STORE
    assert w.verdict("cam", at(118), at(122), at(200)) is Verdict.STORE
    assert w.verdict("cam", at(120), at(124), at(200)) is Verdict.DROP
    assert w.verdict("other", at(98), at(102), at(200)) is Verdict.DROP


def test_pre_roll_starts_before_a_long_event_began() -> None:
    w = windows()
    assert w.add("cam", at(100), start_time=at(60)) == (at(50), at(120))


def test_unclaimed_segment_waits_until_pre_roll_and_grace_have_passed() -> None:
    w = windows()
    # An event at 13 s (arriving up to 5 s late) would still claim a segment ending at 4 s.
    assert w.verdict("cam", at(0), at(4), at(18.9)) is Verdict.WAIT
    assert w.verdict("cam", at(0), at(4), at(19.1)) is Verdict.DROP


def test_nothing_is_dropped_until_the_feed_has_read_for_the_grace() -> None:
    w = windows()
    w.feed_since = None  # the bus is away: an event may be waiting there
    assert w.verdict("cam", at(0), at(4), at(600)) is Verdict.WAIT
    w.feed_since = at(598)  # just (re)subscribed: recent events are being replayed
    assert w.verdict("cam", at(0), at(4), at(600)) is Verdict.WAIT
    assert w.verdict("cam", at(0), at(4), at(603.1)) is Verdict.DROP


def test_overlapping_windows_merge_and_old_ones_are_pruned() -> None:
    w = windows()
    w.add("cam", at(100))
    w.add("cam", at(110))
    w.add("cam", at(500))
    assert w.windows("cam") == [(at(90), at(130)), (at(490), at(520))]
    w.prune(at(200))
    assert w.windows("cam") == [(at(490), at(520))]
    w.prune(at(600))
    assert w.windows("cam") == []
