"""The console's search: events and plate reads from analytics' gRPC API, as JSON.

Each call carries the signed-in user's own bearer token, so analytics scopes the
answer to what the user's organisation may see (its cameras and those shared with
it); playback adds nothing to that decision.

The query parsing is pure (``event_request``, ``plate_request``) and tested without a
server; calls go through the shared typed client (``rtcc.clients.analytics``), whose
errors are the platform's, so the HTTP layer answers with a status and a sentence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.clients.analytics import AnalyticsClient
from rtcc.clients.caller import Caller
from rtcc.common.v1 import common_pb2
from rtcc.core.errors import InvalidArgument

CLASSES = {"person": 1, "vehicle": 2, "bicycle": 3, "plate": 4, "face": 5}
EVENT_TYPES = {
    "appeared": 1, "zone_entered": 2, "zone_exited": 3, "line_crossed": 4,
    "loitering": 5, "plate_read": 6, "face_detected": 7,
}  # fmt: skip
PLATE_MODES = {"exact": 1, "prefix": 2, "wildcard": 3, "fuzzy": 4}
COLORS = [
    "black", "white", "gray", "silver", "red", "orange", "yellow", "green", "blue",
    "purple", "pink", "brown", "beige",
]  # fmt: skip
VEHICLE_TYPES = ["car", "suv", "pickup", "van", "truck", "bus", "motorcycle"]
MAX_RANGE = dt.timedelta(days=31)


def _time(value: str, name: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be an RFC 3339 time", field=name) from None
    if parsed.tzinfo is None:
        raise InvalidArgument(f"{name} needs a time zone (e.g. Z)", field=name)
    return parsed.astimezone(dt.UTC)


def _names(query: Mapping[str, str], key: str, table: Mapping[str, int] | list[str]) -> list[int]:
    """Comma-separated names to enum numbers (list tables are 1-based)."""
    out = []
    for name in filter(None, (n.strip().lower() for n in query.get(key, "").split(","))):
        number = table.get(name) if isinstance(table, Mapping) else None
        if isinstance(table, list) and name in table:
            number = table.index(name) + 1
        if number is None:
            choices = ", ".join(table)
            raise InvalidArgument(f"{key}: unknown value {name!r}; use {choices}", field=key)
        out.append(number)
    return out


def _number(query: Mapping[str, str], key: str, low: float, high: float) -> float | None:
    if not query.get(key):
        return None
    try:
        value = float(query[key])
    except ValueError:
        raise InvalidArgument(f"{key} must be a number", field=key) from None
    if not low <= value <= high:
        raise InvalidArgument(f"{key} must be between {low} and {high}", field=key)
    return value


@dataclass(frozen=True)
class Common:
    """Criteria shared by event and plate searches: when, where, which cameras."""

    start: dt.datetime
    end: dt.datetime
    camera_ids: list[str] = field(default_factory=list)
    area: tuple[float, float, float] | None = None  # lat, lng, radius in metres
    colors: list[int] = field(default_factory=list)
    vehicle_types: list[int] = field(default_factory=list)
    page_size: int = 60
    page_token: str = ""

    @staticmethod
    def parse(query: Mapping[str, str], now: dt.datetime) -> Common:
        end = _time(query["end"], "end") if query.get("end") else now
        hour_before = end - dt.timedelta(hours=1)
        start = _time(query["start"], "start") if query.get("start") else hour_before
        if start >= end:
            raise InvalidArgument("start must be before end", field="start")
        if end - start > MAX_RANGE:
            raise InvalidArgument("search at most 31 days at a time", field="start")
        area = None
        if any(query.get(k) for k in ("lat", "lng", "radius")):
            lat = _number(query, "lat", -90, 90)
            lng = _number(query, "lng", -180, 180)
            radius = _number(query, "radius", 1, 100_000)
            if lat is None or lng is None or radius is None:
                raise InvalidArgument("an area needs lat, lng and radius (metres)", field="radius")
            area = (lat, lng, radius)
        size = _number(query, "page_size", 1, 200)
        cameras = [c for c in query.get("cameras", "").split(",") if c.strip()]
        return Common(
            start, end, [c.strip() for c in cameras], area,
            _names(query, "colors", COLORS), _names(query, "vehicle_types", VEHICLE_TYPES),
            int(size or 60), query.get("page_token", ""),
        )  # fmt: skip

    def time_range(self) -> common_pb2.TimeRange:
        return common_pb2.TimeRange(start_time=_ts(self.start), end_time=_ts(self.end))

    def circle(self) -> common_pb2.GeoCircle | None:
        if self.area is None:
            return None
        lat, lng, radius = self.area
        center = common_pb2.LatLng(latitude=lat, longitude=lng)
        return common_pb2.GeoCircle(center=center, radius_meters=radius)

    def attributes(self) -> apb.AttributeFilter:
        return apb.AttributeFilter(colors=self.colors, vehicle_types=self.vehicle_types)  # type: ignore[arg-type]


def event_request(query: Mapping[str, str], now: dt.datetime) -> apb.SearchEventsRequest:
    """A SearchEvents request from the console's query string."""
    common = Common.parse(query, now)
    confidence = _number(query, "min_confidence", 0, 1)
    return apb.SearchEventsRequest(
        time_range=common.time_range(),
        camera_ids=common.camera_ids,
        area=common.circle(),
        classes=_names(query, "classes", CLASSES),  # type: ignore[arg-type]
        types=_names(query, "types", EVENT_TYPES),  # type: ignore[arg-type]
        attributes=common.attributes(),
        min_confidence=confidence or 0.0,
        page_size=common.page_size,
        page_token=common.page_token,
    )


def plate_request(query: Mapping[str, str], now: dt.datetime) -> apb.SearchPlateReadsRequest:
    """A SearchPlateReads request from the console's query string."""
    common = Common.parse(query, now)
    plate = "".join(ch for ch in query.get("plate", "").upper() if ch not in " -")
    if not plate:
        raise InvalidArgument(
            "type a plate (or its start, or a pattern) to search for", field="plate"
        )
    mode = query.get("mode", "exact").lower()
    if mode not in PLATE_MODES:
        raise InvalidArgument("mode must be exact, prefix, wildcard or fuzzy", field="mode")
    edits = _number(query, "max_edits", 1, 3)
    return apb.SearchPlateReadsRequest(
        query=plate,
        match_mode=PLATE_MODES[mode],  # type: ignore[arg-type]
        max_edits=int(edits or 0),
        time_range=common.time_range(),
        camera_ids=common.camera_ids,
        area=common.circle(),
        vehicle_attributes=common.attributes(),
        page_size=common.page_size,
        page_token=common.page_token,
    )


def _ts(value: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _iso(ts: Timestamp) -> str:
    return ts.ToDatetime(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def _enum_name(value: int, table: Mapping[str, int]) -> str:
    return next((k for k, v in table.items() if v == value), "")


def _attributes(attrs: apb.ObjectAttributes) -> dict[str, str]:
    out = {}
    if attrs.primary_color:
        out["color"] = COLORS[attrs.primary_color - 1]
    if attrs.secondary_color:
        out["secondary_color"] = COLORS[attrs.secondary_color - 1]
    if attrs.vehicle_type:
        out["vehicle_type"] = VEHICLE_TYPES[attrs.vehicle_type - 1]
    for key in ("vehicle_make", "vehicle_model"):
        if getattr(attrs, key):
            out[key] = getattr(attrs, key)
    return out


def event_json(event: apb.Event) -> dict[str, Any]:
    box = event.bounding_box
    return {
        "id": event.id,
        "camera_id": event.camera_id,
        "type": _enum_name(event.type, EVENT_TYPES),
        "class": _enum_name(event.object_class, CLASSES),
        "time": _iso(event.event_time),
        "confidence": round(event.confidence, 3),
        "box": [box.x, box.y, box.width, box.height],
        "attributes": _attributes(event.attributes),
        "zone_id": event.zone_id,
        "plate_read_id": event.plate_read_id,
        "has_snapshot": event.has_snapshot,
    }


def plate_json(match: apb.PlateReadMatch) -> dict[str, Any]:
    read = match.plate_read
    return {
        "id": read.id,
        "camera_id": read.camera_id,
        "plate": read.plate,
        "time": _iso(read.read_time),
        "confidence": round(read.confidence, 3),
        "region": read.region,
        "edit_distance": match.edit_distance,
        "score": round(match.score, 3),
        "attributes": _attributes(read.vehicle_attributes),
        "event_id": read.event_id,
        "has_snapshot": read.has_snapshot,
    }


class AnalyticsSearch:
    """Events, plate reads and snapshots, asked as the signed-in user (their own token)."""

    def __init__(self, client: AnalyticsClient) -> None:
        self._client = client

    async def events(self, caller: Caller, request: apb.SearchEventsRequest) -> dict[str, Any]:
        response = await self._client.search_events(request, caller=caller)
        return {
            "events": [event_json(e) for e in response.events],
            "next_page_token": response.next_page_token,
            "total": response.total_size,
        }

    async def plates(self, caller: Caller, request: apb.SearchPlateReadsRequest) -> dict[str, Any]:
        response = await self._client.search_plate_reads(request, caller=caller)
        return {
            "reads": [plate_json(m) for m in response.matches],
            "next_page_token": response.next_page_token,
        }

    async def snapshot_url(self, caller: Caller, kind: str, item_id: str) -> str:
        """A short-lived signed URL of an event's or plate read's snapshot."""
        request = apb.GetSnapshotUrlRequest(ttl=Duration(seconds=300))
        if kind == "events":
            request.event_id = item_id
        else:
            request.plate_read_id = item_id
        response = await self._client.snapshot_url(request, caller=caller)
        return str(response.url)
