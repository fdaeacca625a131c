"""The console's search queries become analytics requests, or a sentence saying why not."""

from __future__ import annotations

import datetime as dt

import pytest

from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.core.errors import InvalidArgument
from rtcc.playback.investigate import event_json, event_request, plate_request

NOW = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)


def test_an_event_query_carries_every_criterion() -> None:
    query = {
        "start": "2026-12-02T07:00:00Z", "end": "2026-12-02T07:30:00+00:00",
        "cameras": "cam_a, cam_b", "lat": "40.71", "lng": "-74.0", "radius": "250",
        "classes": "person,vehicle", "types": "zone_entered", "colors": "red",
        "vehicle_types": "van", "min_confidence": "0.6", "page_size": "48",
    }  # fmt: skip
    request = event_request(query, NOW)
    assert request.time_range.start_time.ToDatetime(tzinfo=dt.UTC) == NOW - dt.timedelta(hours=1)
    assert list(request.camera_ids) == ["cam_a", "cam_b"]
    assert request.area.center.latitude == 40.71 and request.area.radius_meters == 250
    assert list(request.classes) == [apb.OBJECT_CLASS_PERSON, apb.OBJECT_CLASS_VEHICLE]
    assert list(request.types) == [apb.EVENT_TYPE_ZONE_ENTERED]
    assert list(request.attributes.colors) == [apb.COLOR_RED]
    assert list(request.attributes.vehicle_types) == [apb.VEHICLE_TYPE_VAN]
    assert request.min_confidence == 0.6 and request.page_size == 48


def test_an_empty_query_means_the_last_hour_of_everything() -> None:
    request = event_request({}, NOW)
    start = request.time_range.start_time.ToDatetime(tzinfo=dt.UTC)
    assert (start, request.time_range.end_time.ToDatetime(tzinfo=dt.UTC)) == (
        NOW - dt.timedelta(hours=1),
        NOW,
    )
    assert not request.HasField("area") and not request.classes


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"start": "yesterday"}, "start", "RFC 3339"),
        ({"start": "2026-12-02T07:00:00"}, "start", "time zone"),
        ({"start": "2026-12-02T09:00:00Z"}, "start", "before end"),
        ({"start": "2026-10-01T00:00:00Z"}, "start", "31 days"),
        ({"classes": "dog"}, "classes", "person"),
        ({"lat": "40.7"}, "radius", "lat, lng and radius"),
        ({"lat": "95", "lng": "0", "radius": "10"}, "lat", "between"),
        ({"page_size": "many"}, "page_size", "number"),
    ],
)
def test_a_bad_event_query_says_what_to_fix(query: dict[str, str], field: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        event_request(query, NOW)
    assert caught.value.field == field and words in caught.value.message


def test_a_plate_query_is_normalised_and_keeps_its_mode() -> None:
    request = plate_request({"plate": "rtc-48 21", "mode": "fuzzy", "max_edits": "2"}, NOW)
    assert request.query == "RTC4821"
    assert request.match_mode == apb.PLATE_MATCH_MODE_FUZZY and request.max_edits == 2
    assert plate_request({"plate": "RT"}, NOW).match_mode == apb.PLATE_MATCH_MODE_EXACT


@pytest.mark.parametrize(
    ("query", "field"),
    [({}, "plate"), ({"plate": " - "}, "plate"), ({"plate": "AB", "mode": "soundex"}, "mode"),
     ({"plate": "AB", "mode": "fuzzy", "max_edits": "4"}, "max_edits")],
)  # fmt: skip
def test_a_bad_plate_query_is_refused(query: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        plate_request(query, NOW)
    assert caught.value.field == field


def test_an_event_reads_as_the_console_shows_it() -> None:
    event = apb.Event(
        id="evt_1", camera_id="cam_a", type=apb.EVENT_TYPE_PLATE_READ,
        object_class=apb.OBJECT_CLASS_VEHICLE, confidence=0.91234,
        attributes=apb.ObjectAttributes(primary_color=apb.COLOR_WHITE,
                                        vehicle_type=apb.VEHICLE_TYPE_VAN),
        has_snapshot=True, plate_read_id="plr_1",
    )  # fmt: skip
    event.event_time.FromDatetime(NOW)
    body = event_json(event)
    assert body["type"] == "plate_read" and body["class"] == "vehicle"
    assert body["attributes"] == {"color": "white", "vehicle_type": "van"}
    assert body["time"] == "2026-12-02T08:00:00Z" and body["confidence"] == 0.912
