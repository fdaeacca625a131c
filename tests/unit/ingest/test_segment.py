"""Segment keys, ids, cuts and gaps."""

from __future__ import annotations

import datetime as dt
import random

from rtcc.ingest.segment import (
    MAIN,
    SUB,
    ClosedSegment,
    find_gaps,
    object_key,
    segment_id,
    should_cut,
)
from rtcc.ingest.session import backoff_delay, redact

T0 = dt.datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=dt.UTC)


def test_object_key_is_partitioned_by_hour_and_named_by_start_ms() -> None:
    assert object_key("cam_x", MAIN, T0) == "cam_x/2026/03/04/05/1772600767891.mp4"
    assert object_key("cam_x", SUB, T0).startswith("cam_x/sub/2026/03/04/05/")


def test_segment_id_is_stable_for_the_same_segment() -> None:
    assert segment_id("cam_x", MAIN, T0) == segment_id("cam_x", MAIN, T0)
    assert segment_id("cam_x", MAIN, T0) != segment_id("cam_x", SUB, T0)


def test_closed_segment_survives_the_spool_round_trip() -> None:
    seg = ClosedSegment(
        "seg_1", "cam_x", MAIN, T0, T0 + dt.timedelta(seconds=4), 10, "ab", "h264",
        1280, 720, 15.0, 60, True,
    )  # fmt: skip
    assert ClosedSegment.from_json(seg.to_json()) == seg


def test_gaps_are_the_uncovered_parts_of_a_range() -> None:
    s = dt.timedelta(seconds=1)
    spans = [(T0, T0 + 4 * s), (T0 + 4 * s, T0 + 8 * s), (T0 + 20 * s, T0 + 24 * s)]
    gaps = find_gaps(spans, T0 - 2 * s, T0 + 30 * s)
    assert [(g.start_time - T0, g.end_time - T0) for g in gaps] == [
        (-2 * s, 0 * s),
        (8 * s, 20 * s),
        (24 * s, 30 * s),
    ]
    assert find_gaps(spans[:2], T0, T0 + 8 * s) == []


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 30.0, rng) for n in range(12)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(15.0 <= d <= 30.0 for d in delays[7:])
    assert len(set(delays)) == len(delays)


def test_credentials_never_reach_messages() -> None:
    text = redact("cannot open rtsp://admin:s3cret@10.0.0.5:554/live: refused")
    assert "s3cret" not in text and "rtsp://***@10.0.0.5:554/live" in text


def test_a_keyframe_one_target_after_the_start_cuts_despite_rounding() -> None:
    # A 2 s GOP's keyframe at 1.99999 s (90 kHz RTP timestamps) cuts a 2 s segment.
    assert should_cut(True, 1.99999, 2.0)
    assert should_cut(True, 2.5, 2.0)
    assert not should_cut(False, 2.5, 2.0), "only at a keyframe"
    assert not should_cut(True, 1.9, 2.0), "not a frame early"
