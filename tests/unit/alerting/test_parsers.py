"""Source parsers: ShotSpotter-style XML, NENA EIDO JSON, detector JSON; bad input."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rtcc.alerting import detector, eido, shotspotter
from rtcc.alerting import incoming as inc
from rtcc.core.errors import InvalidArgument

GUNSHOT = b"""<?xml version="1.0"?>
<Incident><ID>SS-1</ID><Revision>1</Revision><Type>Multiple Gunshots</Type>
<Time>2026-01-31T22:14:03Z</Time><Latitude>41.8781</Latitude><Longitude>-87.6298</Longitude>
<Address>5th &amp; Main</Address><Rounds>3</Rounds><Accuracy>25</Accuracy></Incident>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Incident><ID>&lol3;</ID></Incident>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Incident><ID>&xxe;</ID></Incident>"""


def test_gunshot_document_becomes_a_located_critical_report() -> None:
    event = shotspotter.parse("shotspotter", GUNSHOT)
    assert isinstance(event, inc.IncomingEvent)
    assert (event.source_event_id, event.revision, event.kind) == ("SS-1", 1, inc.GUNSHOT)
    assert (event.latitude, event.longitude) == (41.8781, -87.6298)
    assert event.severity == inc.CRITICAL and event.details["rounds"] == 3
    assert event.details["class"] == "multiple_gunshots"
    assert event.summary == "Multiple gunshots: 3 rounds near 5th & Main"
    assert event.event_time == dt.datetime(2026, 1, 31, 22, 14, 3, tzinfo=dt.UTC)


def test_possible_gunfire_is_high_not_critical() -> None:
    doc = GUNSHOT.replace(b"Multiple Gunshots", b"Possible Gunfire")
    event = shotspotter.parse("s", doc)
    assert isinstance(event, inc.IncomingEvent) and event.severity == inc.HIGH


def test_heartbeat_document_is_a_heartbeat() -> None:
    beat = shotspotter.parse("s", b"<Heartbeat><Time>2026-01-31T22:15:00Z</Time></Heartbeat>")
    assert isinstance(beat, inc.Heartbeat) and beat.time.minute == 15


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (BILLION_LAUGHS, "DTD"),
        (EXTERNAL_ENTITY, "DTD"),
        (b"<Incident><ID>1</ID>", "not well-formed"),
        (b"<Other/>", "expected <Incident>"),
        (GUNSHOT.replace(b"Multiple Gunshots", b"Fireworks"), "unknown gunshot class"),
        (GUNSHOT.replace(b"<ID>SS-1</ID>", b""), "no <ID>"),
        (GUNSHOT.replace(b"<Latitude>41.8781", b"<Latitude>141.8"), "latitude"),
        (GUNSHOT.replace(b"2026-01-31T22:14:03Z", b"yesterday"), "RFC 3339"),
    ],
)
def test_bad_gunshot_documents_are_refused_with_a_sentence(body: bytes, words: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        shotspotter.parse("s", body)
    assert words in err.value.message


def eido_doc(status: str = "Dispatched", stamp: str = "2026-01-31T22:16:00Z") -> bytes:
    return json.dumps(
        {
            "eidoMessageIdentifier": "urn:emergency:uid:eido:1",
            "incidentComponent": [
                {
                    "incidentTrackingIdentifier": "urn:emergency:uid:incidentid:77",
                    "incidentTypeCommonRegistryText": ["Shooting"],
                    "incidentStatusCommonRegistryText": [status],
                    "incidentCommonPriorityNumber": 1,
                    "lastUpdateTimeStamp": stamp,
                    "locationReference": "#loc1",
                }
            ],
            "locationComponent": [
                {
                    "$id": "loc1",
                    "civicAddressText": "5th & Main",
                    "locationByValue": '<gml:Point xmlns:gml="http://www.opengis.net/gml">'
                    "<gml:pos>41.8790 -87.6300</gml:pos></gml:Point>",
                }
            ],
        }
    ).encode()


def test_eido_incident_is_parsed_with_pidf_location_and_priority() -> None:
    event = eido.parse("cad", eido_doc())
    assert event.source_event_id == "urn:emergency:uid:incidentid:77"
    assert (event.latitude, event.longitude) == (41.879, -87.63)
    assert event.severity == inc.CRITICAL and event.status == "open"
    assert event.details["incident_type"] == "Shooting"
    later = eido.parse("cad", eido_doc("Closed", "2026-01-31T22:40:00Z"))
    assert later.status == "closed" and later.revision > event.revision


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b"{}", "no incidentComponent"),
        (
            b'{"incidentComponent": [{"lastUpdateTimeStamp": "2026-01-31T22:16:00Z"}]}',
            "incidentTrackingIdentifier",
        ),
    ],
)
def test_bad_eido_is_refused(body: bytes, words: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        eido.parse("cad", body)
    assert words in err.value.message


def test_detector_json_reports_updates() -> None:
    body = {
        "id": "d1",
        "type": "glass_break",
        "time": "2026-01-31T22:14:03Z",
        "latitude": 41.0,
        "longitude": -87.0,
        "severity": "high",
        "update": True,
    }
    event, update = detector.parse("det", json.dumps(body).encode())
    assert update and event.severity == inc.HIGH and event.details["type"] == "glass_break"
    with pytest.raises(InvalidArgument, match="severity"):
        detector.parse("det", json.dumps({**body, "severity": "urgent"}).encode())


def test_location_outside_the_served_area_or_missing_is_refused() -> None:
    event = shotspotter.parse("s", GUNSHOT)
    assert isinstance(event, inc.IncomingEvent)
    inc.check_location(event, inc.ServedArea(41, -88, 42, -87))
    with pytest.raises(InvalidArgument, match="outside the area"):
        inc.check_location(event, inc.ServedArea(40, -80, 40.5, -79))
    no_place = shotspotter.parse(
        "s",
        GUNSHOT.replace(b"<Latitude>41.8781</Latitude>", b"").replace(
            b"<Longitude>-87.6298</Longitude>", b""
        ),
    )
    assert isinstance(no_place, inc.IncomingEvent)
    with pytest.raises(InvalidArgument, match="no location"):
        inc.check_location(no_place, None)
