"""What every source's parser hands on: a normalised incident report or a heartbeat.

Pure. Each parser (``shotspotter``, ``eido``, ``detector``) turns one raw message into
an :class:`IncomingEvent` (or a :class:`Heartbeat`); the intake stores it beside the
raw bytes and their SHA-256. Errors are ``InvalidArgument`` with a sentence naming
what is wrong, so a feed operator can fix the sender.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from rtcc.core.errors import InvalidArgument

# Alert kinds (Alert.kind); the source kinds come first.
GUNSHOT = "gunshot"
CAD_INCIDENT = "cad_incident"
DETECTOR = "detector"
ANALYTICS_EVENT = "analytics_event"
HOTLIST_HIT = "hotlist_hit"
CAMERA_OFFLINE = "camera_offline"
FEED_SILENT = "feed_silent"
HOTLIST_STALE = "hotlist_stale"
CORRELATION = "correlation"
KINDS = (
    GUNSHOT,
    CAD_INCIDENT,
    DETECTOR,
    ANALYTICS_EVENT,
    HOTLIST_HIT,
    CAMERA_OFFLINE,
    FEED_SILENT,
    HOTLIST_STALE,
    CORRELATION,
)

# Severity values of rtcc.alerting.v1.Severity.
LOW, MEDIUM, HIGH, CRITICAL = 1, 2, 3, 4


@dataclass(frozen=True)
class IncomingEvent:
    """One report about an incident in a source system (first report or update)."""

    source: str
    source_event_id: str
    kind: str
    event_time: dt.datetime
    latitude: float | None
    longitude: float | None
    summary: str
    severity: int
    # Orders updates of one incident; a report not newer than the stored one is refused.
    revision: int = 0
    address: str = ""
    accuracy_m: float = 0.0
    # "open" or "closed" (a CAD incident's status); closed incidents close their alert.
    status: str = "open"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class Heartbeat:
    """A source saying it is alive (e.g. a gunshot system's periodic keep-alive)."""

    source: str
    time: dt.datetime
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServedArea:
    """The bounding box the platform serves; a location outside it is refused."""

    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def parse_time(value: Any, name: str) -> dt.datetime:
    """An RFC 3339 time with a zone (``Z`` allowed), or Unix seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InvalidArgument(f"{name} must be a finite number of seconds", field=name)
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    text = str(value or "").strip()
    if not text:
        raise InvalidArgument(f"{name} is required", field=name)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidArgument(
            f"{name} must be an RFC 3339 time such as 2026-01-31T22:15:00Z, got {text[:40]!r}",
            field=name,
        ) from None
    if parsed.tzinfo is None:
        raise InvalidArgument(f"{name} needs a time zone (e.g. Z), got {text[:40]!r}", field=name)
    return parsed.astimezone(dt.UTC)


def parse_coordinate(value: Any, name: str, limit: float) -> float:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name} must be a number of degrees", field=name) from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise InvalidArgument(f"{name} must be -{limit:g} to {limit:g}, got {value}", field=name)
    return number


def check_location(event: IncomingEvent, area: ServedArea | None) -> None:
    """A located event must lie in the served area; an unlocated one is refused."""
    if event.latitude is None or event.longitude is None:
        raise InvalidArgument(
            f"the report of {event.source} incident {event.source_event_id!r} has no location; "
            "send latitude and longitude",
            field="location",
        )
    if area is not None and not area.contains(event.latitude, event.longitude):
        raise InvalidArgument(
            f"the location {event.latitude:.5f},{event.longitude:.5f} of {event.source} "
            f"incident {event.source_event_id!r} is outside the area this platform serves",
            field="location",
        )


def check_size(raw: bytes, limit: int) -> None:
    if len(raw) > limit:
        raise InvalidArgument(
            f"the message is {len(raw)} bytes; at most {limit} are accepted", field="body"
        )


def text(value: Any, limit: int = 500) -> str:
    return str(value if value is not None else "").strip()[:limit]
