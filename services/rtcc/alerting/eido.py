"""CAD / 911 incidents as NENA EIDO JSON (NENA-STA-021), parsed into reports. Pure.

The fields read (everything else is kept verbatim in the raw message)::

    {"eidoMessageIdentifier": "urn:emergency:uid:eido:…",
     "lastUpdateTimeStamp": "2026-01-31T22:16:00Z",
     "incidentComponent": [{
        "incidentTrackingIdentifier": "urn:emergency:uid:incidentid:…",
        "incidentTypeCommonRegistryText": ["Shooting"],
        "incidentStatusCommonRegistryText": ["Dispatched"],
        "incidentCommonPriorityNumber": 1,
        "lastUpdateTimeStamp": "…", "locationReference": "#loc1"}],
     "locationComponent": [{"$id": "loc1",
        "locationByValue": "<gml:Point …><gml:pos>41.8781 -87.6298</gml:pos></gml:Point>",
        "civicAddressText": "5th & Main"}]}

``locationByValue`` is PIDF-LO / GML (parsed with defusedxml); a plain
``{"latitude": …, "longitude": …}`` object is accepted too. Updates of one incident
are ordered by ``lastUpdateTimeStamp``; a status such as Closed/Cleared/Cancelled
closes the incident's alert.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rtcc.alerting.incoming import (
    CAD_INCIDENT,
    CRITICAL,
    HIGH,
    LOW,
    MEDIUM,
    IncomingEvent,
    parse_coordinate,
    parse_time,
    text,
)
from rtcc.alerting.shotspotter import parse_xml
from rtcc.core.errors import InvalidArgument

CLOSED_WORDS = ("closed", "cleared", "completed", "cancel")
_POS = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)")
PRIORITIES = {1: CRITICAL, 2: HIGH, 3: MEDIUM}


def load_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"the body is not valid JSON: {exc}", field="body") from None


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _location(component: dict[str, Any]) -> tuple[float | None, float | None]:
    by_value = component.get("locationByValue")
    if isinstance(by_value, dict):
        return (
            parse_coordinate(by_value.get("latitude"), "latitude", 90),
            parse_coordinate(by_value.get("longitude"), "longitude", 180),
        )
    if isinstance(by_value, str) and by_value.strip():
        root = parse_xml(by_value.encode("utf-8"))
        for element in root.iter():
            if element.tag.rsplit("}", 1)[-1] == "pos" and element.text:
                match = _POS.match(element.text)
                if match:
                    return (
                        parse_coordinate(match.group(1), "latitude", 90),
                        parse_coordinate(match.group(2), "longitude", 180),
                    )
        raise InvalidArgument("locationByValue has no <gml:pos>lat lon</gml:pos>", field="location")
    return None, None


def _component(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = document.get(key) or []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidArgument(f"{key} must be a list of objects", field=key)
    return value


def parse(source: str, raw: bytes) -> IncomingEvent:
    return parse_document(source, load_json(raw))


def parse_document(source: str, document: Any) -> IncomingEvent:
    if not isinstance(document, dict):
        raise InvalidArgument("an EIDO must be a JSON object", field="body")
    incidents = _component(document, "incidentComponent")
    if not incidents:
        raise InvalidArgument("the EIDO has no incidentComponent", field="incidentComponent")
    incident = incidents[0]
    tracking = text(incident.get("incidentTrackingIdentifier"), 200)
    if not tracking:
        raise InvalidArgument(
            "incidentComponent[0].incidentTrackingIdentifier is required",
            field="incidentTrackingIdentifier",
        )
    stamp = incident.get("lastUpdateTimeStamp") or document.get("lastUpdateTimeStamp")
    updated = parse_time(stamp, "lastUpdateTimeStamp")
    incident_type = text(_first(incident.get("incidentTypeCommonRegistryText")), 120) or "Incident"
    status = text(_first(incident.get("incidentStatusCommonRegistryText")), 60)
    priority = incident.get("incidentCommonPriorityNumber", incident.get("priority"))
    severity = PRIORITIES.get(priority, LOW) if isinstance(priority, int) else MEDIUM
    latitude = longitude = None
    address = ""
    reference = str(incident.get("locationReference") or "").lstrip("#")
    for component in _component(document, "locationComponent"):
        if reference and str(component.get("$id", "")).lstrip("#") != reference:
            continue
        latitude, longitude = _location(component)
        address = text(component.get("civicAddressText") or component.get("address"))
        break
    closed = any(word in status.lower() for word in CLOSED_WORDS)
    where = f" at {address}" if address else ""
    return IncomingEvent(
        source=source,
        source_event_id=tracking,
        kind=CAD_INCIDENT,
        event_time=parse_time(incident.get("incidentStartTimeStamp") or stamp, "incident time"),
        latitude=latitude,
        longitude=longitude,
        summary=f"CAD: {incident_type}{where}" + (f" ({status})" if status else ""),
        severity=severity,
        revision=int(updated.timestamp() * 1_000_000),
        address=address,
        status="closed" if closed else "open",
        details={
            "incident_type": incident_type,
            "status": status,
            "priority": priority if isinstance(priority, int) else None,
            "eido_message_id": text(document.get("eidoMessageIdentifier"), 200),
        },
    )
