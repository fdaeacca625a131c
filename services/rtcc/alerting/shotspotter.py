"""ShotSpotter-style gunshot alert documents (XML), parsed safely. Pure.

Accepted documents (element names are matched case-insensitively)::

    <Incident>                         <Heartbeat>
      <ID>SS-1001</ID>                   <Time>2026-01-31T22:15:00Z</Time>
      <Revision>2</Revision>             <Sensors>42</Sensors>
      <Type>Multiple Gunshots</Type>   </Heartbeat>
      <Time>2026-01-31T22:14:03Z</Time>
      <Latitude>41.8781</Latitude> <Longitude>-87.6298</Longitude>
      <Address>5th &amp; Main</Address> <Rounds>3</Rounds> <Accuracy>25</Accuracy>
    </Incident>

``Type`` (or ``Class``) is single / multiple gunshots or possible gunfire; a later
document with the same ``ID`` and a higher ``Revision`` reclassifies or moves the
incident. XML is parsed with defusedxml with DTDs forbidden: entity expansion
(billion laughs) and external entities are refused before anything is expanded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET

from rtcc.alerting.incoming import (
    CRITICAL,
    GUNSHOT,
    HIGH,
    Heartbeat,
    IncomingEvent,
    parse_coordinate,
    parse_time,
    text,
)
from rtcc.core.errors import InvalidArgument

CLASSES = {
    "single": ("single_gunshot", "Single gunshot", CRITICAL),
    "multiple": ("multiple_gunshots", "Multiple gunshots", CRITICAL),
    "possible": ("possible_gunfire", "Possible gunfire", HIGH),
}


def parse_xml(raw: bytes) -> ET.Element:
    """The document's root, or InvalidArgument saying why it was refused."""
    try:
        return SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise InvalidArgument(
            "XML with a DTD (<!DOCTYPE …>) is refused: entity declarations are not accepted",
            field="body",
        ) from None
    except defusedxml.DefusedXmlException as exc:
        raise InvalidArgument(
            "XML with entity declarations or external references is refused "
            f"({type(exc).__name__})",
            field="body",
        ) from None
    except ET.ParseError as exc:
        raise InvalidArgument(f"the body is not well-formed XML: {exc}", field="body") from None


def _children(element: ET.Element) -> dict[str, str]:
    return {child.tag.rsplit("}", 1)[-1].lower(): (child.text or "").strip() for child in element}


def classify(value: str) -> tuple[str, str, int]:
    lowered = value.lower()
    for key, found in CLASSES.items():
        if key in lowered:
            return found
    raise InvalidArgument(
        f"unknown gunshot class {value[:60]!r}: expected single, multiple or possible gunfire",
        field="type",
    )


def parse(source: str, raw: bytes) -> IncomingEvent | Heartbeat:
    root = parse_xml(raw)
    tag = root.tag.rsplit("}", 1)[-1].lower()
    fields = _children(root)
    if tag == "heartbeat":
        when = parse_time(fields.get("time") or fields.get("datetime"), "Heartbeat/Time")
        return Heartbeat(source, when, {k: v for k, v in fields.items() if k != "time"})
    if tag not in ("incident", "alert", "shotspotteralert"):
        raise InvalidArgument(
            f"unknown document <{root.tag[:40]}>: expected <Incident> or <Heartbeat>",
            field="body",
        )
    incident_id = fields.get("id") or fields.get("incidentid") or ""
    if not incident_id:
        raise InvalidArgument("the incident has no <ID>", field="id")
    code, label, severity = classify(fields.get("type") or fields.get("class") or "")
    rounds = _int(fields.get("rounds", "0"), "Rounds")
    revision = _int(fields.get("revision", "0"), "Revision")
    latitude = longitude = None
    if fields.get("latitude") or fields.get("longitude"):
        latitude = parse_coordinate(fields.get("latitude"), "latitude", 90)
        longitude = parse_coordinate(fields.get("longitude"), "longitude", 180)
    address = text(fields.get("address"))
    where = f" near {address}" if address else ""
    summary = f"{label}: {rounds} round{'s' if rounds != 1 else ''}{where}"
    details: dict[str, Any] = {"class": code, "rounds": rounds}
    for extra in ("beat", "district", "sensors"):
        if fields.get(extra):
            details[extra] = text(fields[extra], 100)
    return IncomingEvent(
        source=source,
        source_event_id=text(incident_id, 128),
        kind=GUNSHOT,
        event_time=parse_time(fields.get("time") or fields.get("datetime"), "Incident/Time"),
        latitude=latitude,
        longitude=longitude,
        summary=summary,
        severity=severity,
        revision=revision,
        address=address,
        accuracy_m=float(_int(fields.get("accuracy", "0"), "Accuracy")),
        details=details,
    )


def _int(value: str, name: str) -> int:
    try:
        number = int(value.strip() or "0")
    except ValueError:
        raise InvalidArgument(f"<{name}> must be a whole number, got {value[:20]!r}") from None
    if not 0 <= number <= 1_000_000:
        raise InvalidArgument(f"<{name}> must be 0 to 1000000, got {number}")
    return number
