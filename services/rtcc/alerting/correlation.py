"""Correlation, the reason alerting exists: what is around an alert. Pure.

For an alert at a point and time this module decides, from candidates the I/O layer
fetched (cameras near the point from the registry, plate reads near it from
analytics, earlier alerts from the alert store):

* which cameras to show and in which order: those whose field of view covers the
  point first (they may have seen it), then the merely near ones, nearest first;
  each with why (distance, bearing, in view or only near) and console links to its
  live video and to its recording at the alert instant;
* each source's own radius, time window and history period (a gunshot is not a
  parking complaint);
* correlation rules: a premise alert and a later condition alert within a radius
  and a time window raise a new, higher-priority alert.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

EARTH_RADIUS_M = 6_371_008.8
TOP_CAMERAS = 5


@dataclass(frozen=True)
class Policy:
    """How far and how long to look around one source's alerts."""

    radius_m: float = 300.0
    window: dt.timedelta = dt.timedelta(minutes=15)
    history: dt.timedelta = dt.timedelta(days=30)
    max_cameras: int = 50


DEFAULT_POLICIES: dict[str, Policy] = {
    "gunshot": Policy(400.0, dt.timedelta(minutes=10), dt.timedelta(days=90)),
    "cad_incident": Policy(300.0, dt.timedelta(minutes=20), dt.timedelta(days=30)),
    "hotlist_hit": Policy(200.0, dt.timedelta(minutes=5), dt.timedelta(days=30)),
}


def policy_for(kind: str, overrides: dict[str, Policy] | None = None) -> Policy:
    if overrides and kind in overrides:
        return overrides[kind]
    return DEFAULT_POLICIES.get(kind, Policy())


@dataclass(frozen=True)
class CameraCandidate:
    """A camera near the point, as the registry found it."""

    camera_id: str
    display_name: str
    latitude: float
    longitude: float
    distance_m: float
    bearing_deg: float
    in_view: bool
    heading_deg: float = 0.0
    angle_deg: float = 0.0
    range_m: float = 0.0
    # Owned by the alert's organisation (no sharing question to ask).
    owned: bool = False


@dataclass(frozen=True)
class RankedCamera:
    camera: CameraCandidate
    rank: int
    reason: str
    live_url: str
    recording_url: str


def compass(bearing: float) -> str:
    names = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
    return names[int(((bearing % 360) + 22.5) // 45) % 8]


def rank_cameras(
    candidates: Iterable[CameraCandidate],
    at: dt.datetime,
    *,
    pre_roll: dt.timedelta = dt.timedelta(seconds=30),
    limit: int = 50,
) -> list[RankedCamera]:
    """In view first, then nearest; ties by id so the order is stable."""
    ordered = sorted(candidates, key=lambda c: (not c.in_view, c.distance_m, c.camera_id))
    start = (at - pre_roll).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ranked = []
    for rank, cam in enumerate(ordered[:limit], start=1):
        view = "in view" if cam.in_view else "near, not facing"
        reason = (
            f"{view}, {cam.distance_m:.0f} m, the spot lies {compass(cam.bearing_deg)} "
            f"({cam.bearing_deg:.0f}°) of the camera"
        )
        path = f"/whep/cameras/{quote(cam.camera_id)}"
        ranked.append(RankedCamera(cam, rank, reason, path, f"{path}?start={quote(start)}"))
    return ranked


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres, on the platform's sphere."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlam = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) containing the circle (not across ±180°)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    cos = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(180.0, dlat / cos)
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


@dataclass(frozen=True)
class AlertFacts:
    """What a correlation rule needs to know of an alert."""

    alert_id: str
    kind: str
    latitude: float
    longitude: float
    time: dt.datetime
    severity: int


@dataclass(frozen=True)
class CorrelationRule:
    """A premise alert followed by a condition alert near it raise a new alert."""

    rule_id: str
    premise_kinds: frozenset[str]
    condition_kinds: frozenset[str]
    radius_m: float
    window: dt.timedelta
    severity: int
    title: str = ""


@dataclass(frozen=True)
class CorrelationMatch:
    rule: CorrelationRule
    premise: AlertFacts
    condition: AlertFacts
    distance_m: float

    @property
    def key(self) -> str:
        """One correlated alert per rule and pair, however often it is evaluated."""
        return f"{self.rule.rule_id}:{self.premise.alert_id}:{self.condition.alert_id}"

    def title(self) -> str:
        if self.rule.title:
            return self.rule.title
        return (
            f"{self.condition.kind.replace('_', ' ')} {self.distance_m:.0f} m from "
            f"{self.premise.kind.replace('_', ' ')} "
            f"{abs((self.condition.time - self.premise.time).total_seconds()) / 60:.0f} min apart"
        )


def correlate(
    rules: Sequence[CorrelationRule], new: AlertFacts, recent: Sequence[AlertFacts]
) -> list[CorrelationMatch]:
    """Matches the new alert completes, as condition (after a premise) or as premise
    (before a condition that came first: a hit reported before the gunshot is still
    the same story)."""
    found: list[CorrelationMatch] = []
    for rule in rules:
        for other in recent:
            if other.alert_id == new.alert_id:
                continue
            for premise, condition in ((other, new), (new, other)):
                if premise.kind not in rule.premise_kinds:
                    continue
                if condition.kind not in rule.condition_kinds:
                    continue
                if abs(condition.time - premise.time) > rule.window:
                    continue
                d = distance_m(
                    premise.latitude, premise.longitude, condition.latitude, condition.longitude
                )
                if d <= rule.radius_m:
                    found.append(CorrelationMatch(rule, premise, condition, d))
                    break
    return found


@dataclass
class ContextSummary:
    """What correlation attached, kept with the alert and refreshed on relocation."""

    camera_ids: list[str] = field(default_factory=list)
    in_view_ids: list[str] = field(default_factory=list)
    plate_read_ids: list[str] = field(default_factory=list)
    prior_alert_ids: list[str] = field(default_factory=list)
    hold_ids: list[str] = field(default_factory=list)
    correlate_time: dt.datetime | None = None
    latitude: float | None = None
    longitude: float | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "camera_ids": self.camera_ids,
            "in_view_ids": self.in_view_ids,
            "plate_read_ids": self.plate_read_ids,
            "prior_alert_ids": self.prior_alert_ids,
            "hold_ids": self.hold_ids,
            "correlate_time": self.correlate_time.isoformat() if self.correlate_time else None,
            "latitude": self.latitude,
            "longitude": self.longitude,
        }

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> ContextSummary:
        data = data or {}

        def ids(key: str) -> list[str]:
            value = data.get(key) or []
            return [str(v) for v in value] if isinstance(value, list) else []

        stamp = data.get("correlate_time")
        lat, lon = data.get("latitude"), data.get("longitude")
        return cls(
            ids("camera_ids"),
            ids("in_view_ids"),
            ids("plate_read_ids"),
            ids("prior_alert_ids"),
            ids("hold_ids"),
            dt.datetime.fromisoformat(stamp) if isinstance(stamp, str) else None,
            float(lat) if isinstance(lat, (int, float)) else None,
            float(lon) if isinstance(lon, (int, float)) else None,
        )

    def moved(self, lat: float, lon: float, tolerance_m: float = 1.0) -> bool:
        """Whether the alert's location changed since correlation last ran."""
        if self.latitude is None or self.longitude is None:
            return True
        return distance_m(self.latitude, self.longitude, lat, lon) > tolerance_m
