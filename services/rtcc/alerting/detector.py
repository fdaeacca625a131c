"""The plain JSON webhook for other detectors (glass break, panic buttons…). Pure.

    {"id": "det-77", "type": "glass_break", "time": "2026-01-31T22:14:03Z",
     "latitude": 41.8781, "longitude": -87.6298, "summary": "Glass break",
     "severity": "high", "revision": 1, "update": false, "details": {…}}

``update: true`` marks a report about an incident sent before; such a report for an
incident the platform never saw is refused (the first report must come first).
"""

from __future__ import annotations

from typing import Any

from rtcc.alerting.eido import load_json
from rtcc.alerting.incoming import (
    CRITICAL,
    DETECTOR,
    HIGH,
    LOW,
    MEDIUM,
    IncomingEvent,
    parse_coordinate,
    parse_time,
    text,
)
from rtcc.core.errors import InvalidArgument

SEVERITIES = {"low": LOW, "medium": MEDIUM, "high": HIGH, "critical": CRITICAL}


def parse(source: str, raw: bytes) -> tuple[IncomingEvent, bool]:
    """The report and whether it says it is an update."""
    body: Any = load_json(raw)
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object", field="body")
    event_id = text(body.get("id"), 128)
    if not event_id:
        raise InvalidArgument("id is required (the detector's own event id)", field="id")
    severity_name = str(body.get("severity") or "medium").lower()
    if severity_name not in SEVERITIES:
        raise InvalidArgument("severity must be low, medium, high or critical", field="severity")
    latitude = longitude = None
    if body.get("latitude") is not None or body.get("longitude") is not None:
        latitude = parse_coordinate(body.get("latitude"), "latitude", 90)
        longitude = parse_coordinate(body.get("longitude"), "longitude", 180)
    details = body.get("details") or {}
    if not isinstance(details, dict):
        raise InvalidArgument("details must be an object", field="details")
    revision = body.get("revision", 0)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise InvalidArgument("revision must be a whole number ≥ 0", field="revision")
    kind_label = text(body.get("type"), 60) or "event"
    event = IncomingEvent(
        source=source,
        source_event_id=event_id,
        kind=DETECTOR,
        event_time=parse_time(body.get("time"), "time"),
        latitude=latitude,
        longitude=longitude,
        summary=text(body.get("summary"), 200) or f"{source}: {kind_label}",
        severity=SEVERITIES[severity_name],
        revision=revision,
        address=text(body.get("address")),
        status="closed" if body.get("closed") is True else "open",
        details={"type": kind_label, **{str(k)[:60]: v for k, v in list(details.items())[:50]}},
    )
    return event, body.get("update") is True
