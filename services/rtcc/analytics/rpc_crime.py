"""Crime-analysis RPCs of AnalyticsService: hotspots, near repeat, trends, stored runs.

Why inside analytics: its inputs are analytics' own events (with camera locations,
already limited to the caller's visible cameras here) plus incident points sent with
the request, it needs no loop, lease or state of its own, and a new target would add
a deployment, chart wiring and an access path for no gain (docs/investigations.md).

Each run: validate (time range <= 366 days, a stated purpose), gather points
(request incidents + visible events), compute in a worker thread
(``rtcc.analytics.crime``), serialise the result deterministically, hash input and
result (SHA-256), store the run in the object store (bucket ``analyses``,
``<org>/<run id>.pb``) and audit who/when/why with both hashes.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from google.protobuf import struct_pb2

from rtcc.analytics import convert, crime
from rtcc.analytics.queries import cameras_in_scope
from rtcc.analytics.scope import CameraScope
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.tables import events
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.backends.objectstore import ObjectStore
from rtcc.clients import AccessAudit, Caller
from rtcc.clients.alerting import AlertingClient
from rtcc.common import time as wire_time
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import current_principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound, RtccError
from rtcc.core.ids import new_id

RUNS_BUCKET = "analyses"
MAX_PURPOSE = 500


def _timestamp(when: datetime) -> Any:
    return wire_time.to_timestamp(when)


async def event_points(
    store: AnalyticsStore,
    start: datetime,
    end: datetime,
    allowed: frozenset[str] | None,
    types: list[int],
    classes: list[int],
) -> list[crime.Incident]:
    """Stored events with a location, of visible cameras, as points (area = camera)."""
    cameras = cameras_in_scope(allowed, ())
    if cameras is not None and not cameras:
        return []
    c = events.c
    where: list[Any] = [
        c.event_time >= start,
        c.event_time < end,
        c.latitude.is_not(None),
        c.longitude.is_not(None),
    ]
    if cameras is not None:
        where.append(c.camera_id.in_(sorted(cameras)))
    if types:
        where.append(c.type.in_(types))
    if classes:
        where.append(c.object_class.in_(classes))
    query = (
        sa.select(c.id, c.latitude, c.longitude, c.event_time, c.camera_id, c.type)
        .where(*where)
        .limit(crime.MAX_POINTS + 1)
    )
    async with store.database.transaction(readonly=True) as conn:
        rows = (await conn.execute(query)).all()
    return [
        crime.Incident(r.id, float(r.latitude), float(r.longitude), r.event_time, r.camera_id,
                       pb.EventType.Name(r.type) if r.type in pb.EventType.values() else "")
        for r in rows
    ]  # fmt: skip


class CrimeAnalysisRpcs:
    store: AnalyticsStore
    objects: ObjectStore
    scope: CameraScope
    audit: AccessAudit | None
    # Set by service.setup; None where no alerting client exists (tests of the mixin).
    alerting: AlertingClient | None = None

    async def _points(
        self, given: pb.AnalysisInput, context: Any
    ) -> tuple[list[crime.Incident], datetime, datetime, str]:
        start, end = convert.time_range(given.time_range, now=datetime.now(UTC))
        purpose = given.purpose.strip()
        if not purpose:
            raise InvalidArgument(
                "state the purpose of this analysis (case number, briefing); it is audited",
                field="input.purpose",
            )
        if len(purpose) > MAX_PURPOSE:
            raise InvalidArgument(
                f"purpose is at most {MAX_PURPOSE} characters", field="input.purpose"
            )
        if end - start > crime.MAX_SPAN:
            raise InvalidArgument(
                f"time_range spans {(end - start).days} days; an analysis covers at most "
                f"{crime.MAX_SPAN.days} days: run one per year",
                field="input.time_range",
            )
        points = []
        for i, incident in enumerate(given.incidents):
            where = f"input.incidents[{i}]"
            if not incident.id or not incident.HasField("location"):
                raise InvalidArgument(f"{where} needs an id and a location", field=where)
            if not incident.HasField("time"):
                raise InvalidArgument(f"{where} needs a time", field=where)
            points.append(
                crime.Incident(
                    incident.id,
                    incident.location.latitude,
                    incident.location.longitude,
                    wire_time.to_datetime(incident.time, f"{where}.time"),
                    incident.area,
                    incident.category,
                )
            )
        for name, values, enum in (
            ("event_types", given.event_types, pb.EventType),
            ("event_classes", given.event_classes, pb.ObjectClass),
        ):
            unknown = sorted(set(values) - set(enum.values()) | ({0} & set(values)))
            if unknown:
                raise InvalidArgument(
                    f"input.{name} holds values that name nothing: {unknown[:5]}",
                    field=f"input.{name}",
                )
        if given.include_external_events:
            points += await self._external_points(given, start, end, context)
        if given.event_types or given.event_classes:
            allowed = await self.scope.results(Caller.of_call(context))
            points += await event_points(
                self.store, start, end, allowed, list(given.event_types),
                list(given.event_classes),
            )  # fmt: skip
        if len(points) > crime.MAX_POINTS:
            raise InvalidArgument(
                f"more than {crime.MAX_POINTS} incidents; narrow the time range",
                field="input.time_range",
            )
        try:
            crime.check_points(points, start, end)
        except crime.BadParameters as exc:
            raise InvalidArgument(str(exc), field=f"input.{exc.field}") from None
        return points, start, end, purpose

    async def _external_points(
        self, given: pb.AnalysisInput, start: datetime, end: datetime, context: Any
    ) -> list[crime.Incident]:
        """External events from AlertingService.ListExternalEvents, with the caller's
        own credentials (what the caller may list is what is analysed)."""
        if self.alerting is None:
            raise FailedPrecondition(
                "external events cannot be read: this analytics replica has no alerting "
                "client; send the incidents with the request instead"
            )
        from rtcc.alerting.v1 import alerting_pb2 as apb

        caller = Caller.of_call(context)
        points: list[crime.Incident] = []
        token = ""
        while len(points) <= crime.MAX_POINTS:
            request = apb.ListExternalEventsRequest(
                time_range=given.time_range, page_size=1000, page_token=token
            )
            reply = await self.alerting.read("ListExternalEvents", request, caller=caller)
            for event in reply.external_events:
                if not event.HasField("location") or not event.HasField("event_time"):
                    continue
                when = wire_time.to_datetime(event.event_time, "external_event.event_time")
                if not start <= when < end:
                    continue
                details = dict(event.details.items()) if event.HasField("details") else {}
                area = str(details.get("beat") or details.get("area") or "")
                category = (
                    apb.ExternalEventType.Name(event.type)
                    if event.type in apb.ExternalEventType.values()
                    else ""
                )
                points.append(
                    crime.Incident(
                        event.id, event.location.latitude, event.location.longitude,
                        when, area, category,
                    )
                )  # fmt: skip
            token = reply.next_page_token
            if not token:
                break
        return points

    async def _run(
        self,
        kind: str,
        given: pb.AnalysisInput,
        context: Any,
        parameters: dict[str, Any],
        compute: Callable[[list[crime.Incident], datetime], Any],
    ) -> pb.AnalysisRun:
        points, _, end, purpose = await self._points(given, context)
        try:
            result = await asyncio.to_thread(compute, points, end)
        except crime.TooFewIncidents as exc:
            raise FailedPrecondition(str(exc)) from None
        except crime.BadParameters as exc:
            raise InvalidArgument(str(exc), field=exc.field) from None
        principal = current_principal()
        run = pb.AnalysisRun(
            id=new_id("anr"),
            kind=kind,
            organization_id=principal.org_id,
            creator=principal.subject,
            purpose=purpose,
            create_time=_timestamp(datetime.now(UTC)),
            input_sha256=crime.input_sha256(points),
            incident_count=len(points),
        )
        run.parameters.CopyFrom(_struct(parameters))
        field = {"HOTSPOTS": "hotspots", "NEAR_REPEAT": "near_repeat", "TRENDS": "trends"}[kind]
        getattr(run, field).CopyFrom(result)
        run.result_sha256 = hashlib.sha256(result.SerializeToString(deterministic=True)).hexdigest()
        await self._save_run(run)
        if self.audit is not None:
            await self.audit.record(
                principal, f"analysis.{kind.lower()}", "analysis_run", run.id, "allowed",
                purpose=purpose, input_sha256=run.input_sha256,
                result_sha256=run.result_sha256, incidents=len(points),
            )  # fmt: skip
        return run

    async def _save_run(self, run: pb.AnalysisRun) -> None:
        await self.objects.ensure_bucket(RUNS_BUCKET)
        key = f"{run.organization_id}/{run.id}.pb"
        await self.objects.put(
            RUNS_BUCKET, key, run.SerializeToString(deterministic=True),
            content_type="application/x-protobuf",
        )  # fmt: skip

    async def RunHotspotAnalysis(
        self, request: pb.RunHotspotAnalysisRequest, context: Any
    ) -> pb.RunHotspotAnalysisResponse:
        cell = request.cell_m or 250.0
        params: dict[str, Any] = {
            "cell_m": cell,
            "bandwidth_m": request.bandwidth_m or 2 * cell,
            "permutations": request.permutations if request.HasField("permutations") else 0,
            "alpha": request.alpha or 0.05,
            "seed": request.seed or 12345,
        }
        run = await self._run(
            "HOTSPOTS", request.input, context, params,
            lambda points, _end: _hotspot_message(crime.hotspots(points, **params)),
        )  # fmt: skip
        return pb.RunHotspotAnalysisResponse(run=run)

    async def RunNearRepeatAnalysis(
        self, request: pb.RunNearRepeatAnalysisRequest, context: Any
    ) -> pb.RunNearRepeatAnalysisResponse:
        params: dict[str, Any] = {
            "distance_m": request.distance_m or 200.0,
            "days": request.days or 14.0,
            "permutations": request.permutations or 999,
            "seed": request.seed or 12345,
        }
        run = await self._run(
            "NEAR_REPEAT", request.input, context, params,
            lambda points, _end: pb.NearRepeatResult(**vars(crime.knox(points, **params))),
        )  # fmt: skip
        return pb.RunNearRepeatAnalysisResponse(run=run)

    async def RunTrendAnalysis(
        self, request: pb.RunTrendAnalysisRequest, context: Any
    ) -> pb.RunTrendAnalysisResponse:
        params = {"baseline_weeks": request.baseline_weeks or 8}

        def compute(points: list[crime.Incident], end: datetime) -> pb.TrendResult:
            result = crime.trends(points, week_end=end, **params)
            return pb.TrendResult(
                week_start=_timestamp(result.week_start),
                baseline_weeks=result.baseline_weeks,
                incidents=result.incidents,
                areas=[pb.AreaTrend(**vars(a)) for a in result.areas],
            )

        run = await self._run("TRENDS", request.input, context, params, compute)
        return pb.RunTrendAnalysisResponse(run=run)

    async def GetAnalysisRun(
        self, request: pb.GetAnalysisRunRequest, context: Any
    ) -> pb.GetAnalysisRunResponse:
        principal = current_principal()
        run_id = request.run_id
        missing = NotFound(f"analysis run {run_id!r} does not exist or is not visible to you")
        if not run_id.startswith("anr_") or "/" in run_id or len(run_id) > 64:
            raise missing
        try:
            data = await self.objects.get(RUNS_BUCKET, f"{principal.org_id}/{run_id}.pb")
        except RtccError:
            raise missing from None
        run = pb.AnalysisRun.FromString(data)
        if self.audit is not None:
            await self.audit.record(principal, "analysis.read", "analysis_run", run_id, "allowed")
        return pb.GetAnalysisRunResponse(run=run)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def _hotspot_message(result: crime.HotspotResult) -> pb.HotspotResult:
    return pb.HotspotResult(
        cell_m=result.cell_m,
        bandwidth_m=result.bandwidth_m,
        rows=result.rows,
        cols=result.cols,
        incidents=result.incidents,
        max_density_per_km2=result.max_density_per_km2,
        cells=[
            pb.HotspotCell(
                row=c.row, col=c.col, count=c.count, density_per_km2=c.density_per_km2,
                gi_z=c.gi_z, p_value=c.p_value,
                center=common_pb2.LatLng(latitude=c.latitude, longitude=c.longitude),
            )
            for c in result.cells
        ],
    )  # fmt: skip
