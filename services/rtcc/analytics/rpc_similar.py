"""Cross-camera search and vehicle journeys: the investigative RPCs of AnalyticsService.

FindSimilarAppearances: the source event's appearance (HSV histograms stored with each
object-appeared event, ``attributes.appearance``; see ``rtcc.analytics.appearance``)
is compared with every object-appeared event of the same class on the caller's
visible cameras within ``radius_meters`` of the source camera (the registry's geo
search, through ``CameraScope``) and ``time_window`` of the source time; the most
alike first. The index ``(camera_id, event_time)`` bounds the candidates; distances
are computed in one vectorised pass.

GetVehicleJourney: the plate's reads (exact, or with OCR confusions folded) on visible
cameras in time order, each with the distance and time from the previous stop.

Both require a stated purpose and write it, with who and what, to the audit log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from rtcc.analytics import appearance, convert
from rtcc.analytics import plates as plate_rules
from rtcc.analytics.queries import check_range
from rtcc.analytics.records import EVENT_TYPE_CODES, EventRecord
from rtcc.analytics.scope import CameraScope
from rtcc.analytics.store import AnalyticsStore, _event, _plate
from rtcc.analytics.tables import events, plate_reads
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.clients import AccessAudit, Caller
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import current_principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument

MAX_RADIUS_M = 50_000.0
MAX_WINDOW = timedelta(hours=24)
MAX_RESULTS = 200
MAX_CANDIDATES = 100_000
MAX_JOURNEY = 1000
MAX_JOURNEY_SPAN = timedelta(days=31)
APPEARED = EVENT_TYPE_CODES["object_appeared"]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, a)))


def _purpose(text: str) -> str:
    purpose = text.strip()
    if not purpose:
        raise InvalidArgument(
            "state the purpose of this search (case number); it is audited", field="purpose"
        )
    if len(purpose) > 500:
        raise InvalidArgument("purpose is at most 500 characters", field="purpose")
    return purpose


@dataclass(frozen=True)
class Candidate:
    """An object-appeared event reduced to what ranking needs."""

    id: str
    event_time: datetime
    look: appearance.Appearance


async def similar_candidates(
    store: AnalyticsStore, source: EventRecord, cameras: frozenset[str], window: timedelta
) -> list[Candidate]:
    """Object-appeared events of the source's class on ``cameras`` within the window,
    with an appearance (only the columns ranking needs are read)."""
    others = sorted(cameras - {source.camera_id})
    if not others:
        return []
    c = events.c
    query = (
        sa.select(c.id, c.event_time, c.attributes)
        .where(
            c.camera_id.in_(others),
            c.event_time >= source.event_time - window,
            c.event_time <= source.event_time + window,
            c.type == APPEARED,
            c.object_class == source.object_class,
        )
        .limit(MAX_CANDIDATES + 1)
    )
    async with store.database.transaction(readonly=True) as conn:
        rows = (await conn.execute(query)).all()
    if len(rows) > MAX_CANDIDATES:
        raise InvalidArgument(
            f"more than {MAX_CANDIDATES} objects in this window; narrow time_window or "
            "radius_meters",
            field="time_window",
        )
    found = []
    for row in rows:
        look = appearance.decode(str((row.attributes or {}).get("appearance", "")))
        if look is not None:
            found.append(Candidate(row.id, row.event_time, look))
    return found


def rank(
    source: EventRecord,
    look: appearance.Appearance,
    candidates: list[Candidate],
    min_similarity: float,
    limit: int,
) -> list[tuple[Candidate, float]]:
    """(candidate, similarity) most alike first, ties by time closeness then id."""
    if not candidates:
        return []
    similarity = 1.0 - appearance.distances(look, np.stack([c.look for c in candidates]))
    order = sorted(
        (i for i in range(len(candidates)) if similarity[i] >= min_similarity),
        key=lambda i: (
            -round(float(similarity[i]), 6),
            abs((candidates[i].event_time - source.event_time).total_seconds()),
            candidates[i].id,
        ),
    )
    return [(candidates[i], round(float(similarity[i]), 6)) for i in order[:limit]]


async def load_events(store: AnalyticsStore, ids: list[str]) -> dict[str, EventRecord]:
    if not ids:
        return {}
    query = sa.select(events).where(events.c.id.in_(ids))
    async with store.database.transaction(readonly=True) as conn:
        return {r.id: _event(r) for r in (await conn.execute(query)).all()}


class InvestigationRpcs:
    store: AnalyticsStore
    scope: CameraScope
    audit: AccessAudit | None

    async def _audited(self, action: str, kind: str, resource: str, **detail: Any) -> None:
        if self.audit is not None:
            principal = current_principal()
            await self.audit.record(principal, action, kind, resource, "allowed", **detail)

    async def FindSimilarAppearances(
        self, request: pb.FindSimilarAppearancesRequest, context: Any
    ) -> pb.FindSimilarAppearancesResponse:
        purpose = _purpose(request.purpose)
        radius = request.radius_meters or 2000.0
        if not 0 < radius <= MAX_RADIUS_M:
            raise InvalidArgument(
                f"radius_meters must be more than 0 and at most {MAX_RADIUS_M:g}",
                field="radius_meters",
            )
        seconds = request.time_window.seconds if request.HasField("time_window") else 3600
        window = timedelta(seconds=min(max(seconds, -1), 10**9)) + timedelta(
            microseconds=request.time_window.nanos // 1000
        )
        if not timedelta(0) < window <= MAX_WINDOW:
            raise InvalidArgument(
                "time_window must be more than 0 and at most 24 hours", field="time_window"
            )
        min_similarity = request.min_similarity or 0.6
        if not 0 <= min_similarity <= 1:
            raise InvalidArgument("min_similarity must be 0 to 1", field="min_similarity")
        if request.max_results < 0:
            raise InvalidArgument("max_results must not be negative", field="max_results")
        limit = min(request.max_results or 20, MAX_RESULTS)
        caller = Caller.of_call(context)
        source = await self.store.get_event(request.event_id, await self.scope.results(caller))
        look = appearance.decode(str(source.attributes.get("appearance", "")))
        if look is None or source.type != APPEARED:
            raise FailedPrecondition(
                f"event {source.id!r} carries no appearance to compare: start from an "
                "object-appeared event of a person, vehicle or bicycle"
            )
        if source.latitude is None or source.longitude is None:
            raise FailedPrecondition(
                f"event {source.id!r} has no location (its camera has none): cameras "
                "near it cannot be found; give the camera a location in the registry"
            )
        area = common_pb2.GeoCircle(
            center=common_pb2.LatLng(latitude=source.latitude, longitude=source.longitude),
            radius_meters=radius,
        )
        cameras = await self.scope.results(caller, area)  # visible ones near the source
        candidates = await similar_candidates(self.store, source, cameras or frozenset(), window)
        ranked = rank(source, look, candidates, min_similarity, limit)
        records = await load_events(self.store, [c.id for c, _ in ranked])
        matches = []
        for candidate, similarity in ranked:
            record = records[candidate.id]
            offset = (record.event_time - source.event_time).total_seconds()
            distance = (
                haversine_m(source.latitude, source.longitude, record.latitude, record.longitude)
                if record.latitude is not None and record.longitude is not None
                else 0.0
            )
            matches.append(
                pb.AppearanceMatch(
                    event=convert.event(record), similarity=similarity,
                    time_offset_seconds=offset, distance_meters=round(distance, 1),
                )
            )  # fmt: skip
        await self._audited(
            "event.similar_search", "event", source.id, purpose=purpose,
            matches=len(matches), candidates=len(candidates),
        )  # fmt: skip
        return pb.FindSimilarAppearancesResponse(
            source=convert.event(source), matches=matches, candidates=len(candidates)
        )

    async def GetVehicleJourney(
        self, request: pb.GetVehicleJourneyRequest, context: Any
    ) -> pb.GetVehicleJourneyResponse:
        purpose = _purpose(request.purpose)
        if not request.plate.strip():
            raise InvalidArgument("plate is required (letters and digits)", field="plate")
        plate = plate_rules.normalise(request.plate, field="plate")
        start, end = convert.time_range(request.time_range, now=datetime.now(UTC))
        check_range(start, end, max_span=MAX_JOURNEY_SPAN)
        allowed = await self.scope.results(Caller.of_call(context))
        c = plate_reads.c
        where: list[Any] = [c.read_time >= start, c.read_time < end]
        if request.include_confusions:
            where.append(c.plate_folded == plate_rules.fold(plate))
        else:
            where.append(c.plate == plate)
        if allowed is not None:
            if not allowed:
                return pb.GetVehicleJourneyResponse(plate=plate)
            where.append(c.camera_id.concat("").in_(sorted(allowed)))
        query = (
            sa.select(plate_reads).where(*where).order_by(c.read_time, c.id).limit(MAX_JOURNEY + 1)
        )
        async with self.store.database.transaction(readonly=True) as conn:
            rows = [_plate(r) for r in (await conn.execute(query)).all()]
        truncated = len(rows) > MAX_JOURNEY
        stops = []
        previous = None
        for read in rows[:MAX_JOURNEY]:
            distance = seconds = 0.0
            if previous is not None:
                seconds = (read.read_time - previous.read_time).total_seconds()
                if None not in (read.latitude, read.longitude, previous.latitude):
                    distance = haversine_m(
                        previous.latitude, previous.longitude,  # type: ignore[arg-type]
                        read.latitude, read.longitude,  # type: ignore[arg-type]
                    )  # fmt: skip
            stops.append(
                pb.JourneyStop(
                    plate_read=convert.plate_read(read),
                    distance_from_previous_meters=round(distance, 1),
                    seconds_from_previous=seconds,
                )
            )
            previous = read
        await self._audited("plate_read.journey", "plate", plate, purpose=purpose, stops=len(stops))
        return pb.GetVehicleJourneyResponse(plate=plate, stops=stops, truncated=truncated)
