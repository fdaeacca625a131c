"""The shared vocabulary: one paging behaviour, one time conversion, one schedule type."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rtcc.common import paging
from rtcc.common import time as wire_time
from rtcc.common.schedule import Schedule, Window
from rtcc.core.errors import InvalidArgument


def test_page_size_defaults_clamps_and_refuses_negative() -> None:
    assert paging.page_size(0) == 100
    assert paging.page_size(5) == 5
    assert paging.page_size(50_000) == 1000
    with pytest.raises(InvalidArgument) as refused:
        paging.page_size(-1)
    assert refused.value.field == "page_size"


def test_page_tokens_round_trip_and_foreign_or_garbled_ones_are_invalid_argument() -> None:
    token = paging.encode_token("segments", "2026-03-02T10:00:00+00:00", "seg_1")
    assert paging.decode_token(token, "segments", 2) == ["2026-03-02T10:00:00+00:00", "seg_1"]
    other = paging.encode_token("cameras", "cam_1")
    for bad in (other, "!!!", "", base64.urlsafe_b64encode(b"\xff\xfe").decode(), token + "A"):
        with pytest.raises(InvalidArgument) as refused:
            paging.decode_token(bad, "segments", 2)
        assert refused.value.field == "page_token"


def test_timestamps_and_datetimes_convert_both_ways_in_utc() -> None:
    when = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    stamp = wire_time.to_timestamp(when)
    assert stamp is not None
    back = wire_time.to_datetime(stamp)
    assert back == when and back.tzinfo is UTC
    assert wire_time.to_timestamp(None) is None
    with pytest.raises(ValueError):
        wire_time.to_timestamp(datetime(2026, 3, 2))  # naive


def test_one_schedule_type_answers_active_and_window_end_across_midnight() -> None:
    nights = Schedule("America/Detroit", (Window(frozenset(), 22 * 60, 6 * 60),))
    eleven_pm = datetime(2026, 3, 2, 23, 0, tzinfo=UTC).replace(hour=4)  # 23:00 in Detroit
    assert nights.active(eleven_pm)
    end = nights.open_window_end(eleven_pm)
    assert end is not None and end.astimezone(UTC) == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert not nights.active(datetime(2026, 3, 2, 18, 0, tzinfo=UTC))  # 13:00 local
    assert Schedule("", ()).active(datetime(2026, 3, 2, tzinfo=UTC))  # no windows: always
    with pytest.raises(InvalidArgument):
        Schedule("Mars/Olympus", ())


def test_analytics_and_registry_use_the_same_schedule_type() -> None:
    from rtcc.analytics import schedule as analytics_schedule
    from rtcc.registry import access

    assert analytics_schedule.Schedule is Schedule is access.Schedule
    assert analytics_schedule.Window is Window is access.Window


def test_every_bus_subject_has_a_message_and_decodes_what_its_publisher_sends() -> None:
    import json

    from rtcc.analytics.v1 import analytics_pb2
    from rtcc.common import bus
    from rtcc.common.v1 import common_pb2
    from rtcc.ingest.segment import ClosedSegment
    from rtcc.ingest.uploader import SUBJECT as SEGMENT_SUBJECT
    from rtcc.ingest.uploader import event_payload
    from rtcc.registry.worker import SUBJECT as CHANGED_SUBJECT

    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    segment = ClosedSegment(
        "seg_1", "cam_1", 1, start, start + timedelta(seconds=4), 1234, "ab" * 32, "h264",
        640, 480, 15.0, 60, False,
    )  # fmt: skip
    decoded = bus.decode(SEGMENT_SUBJECT, event_payload(segment))
    assert isinstance(decoded, common_pb2.SegmentCreated)
    assert (decoded.segment_id, decoded.size_bytes, decoded.stream) == ("seg_1", 1234, 1)
    assert decoded.start_time.ToDatetime(tzinfo=UTC) == start
    assert decoded.object_key == segment.object_key
    assert json.loads(bus.encode(SEGMENT_SUBJECT, decoded))["segment_id"] == "seg_1"

    changed = bus.decode(CHANGED_SUBJECT, json.dumps({"revision": 42}).encode())
    assert isinstance(changed, common_pb2.CameraChanged) and changed.revision == 42
    event = analytics_pb2.Event(id="evt_1", camera_id="cam_1")
    assert bus.decode(bus.ANALYTICS_EVENT, bus.encode(bus.ANALYTICS_EVENT, event)) == event
    with pytest.raises(InvalidArgument):
        bus.decode(SEGMENT_SUBJECT, b"not json")
