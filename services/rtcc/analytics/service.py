"""The ``analytics`` target: the AnalyticsService servicer and the replica's worker.

Every RPC is served, each limited to the cameras the caller may see (asked of the
registry with the caller's token): detector configs and status (``rpc_config``),
events (get, list, search, subscribe), plate reads (get, search) and snapshot URLs
(audited). Criteria not supported yet (vehicle make, extra attributes, cropped
snapshots) answer UNIMPLEMENTED, saying so.
The worker leases enabled cameras from ingest and runs a pipeline per camera; its
events reach the database, the object store and the bus through ``StoringSink``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc

from rtcc.analytics import config as detector_config
from rtcc.analytics import convert
from rtcc.analytics.config_store import DetectorConfigStore
from rtcc.analytics.detection import Frame
from rtcc.analytics.detectors.factory import build_detectors
from rtcc.analytics.directory import RegistryCameraDirectory
from rtcc.analytics.frames import ingest_frames
from rtcc.analytics.queries import EventQuery, PlateQuery
from rtcc.analytics.rpc_config import DetectorConfigRpcs
from rtcc.analytics.rpc_crime import CrimeAnalysisRpcs
from rtcc.analytics.rpc_similar import InvestigationRpcs
from rtcc.analytics.scope import CameraScope
from rtcc.analytics.sink import BUCKET, StoringSink
from rtcc.analytics.status import DetectorStatusStore
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.subscriptions import subscribe
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc
from rtcc.analytics.worker import ANALYTICS_POOL, AnalyticsWorker
from rtcc.backends.bus import EventBus
from rtcc.backends.objectstore import ObjectStore
from rtcc.clients import AccessAudit, Caller, Clients, for_service, rechecked, require_unexpired
from rtcc.core.auth import current_principal
from rtcc.core.errors import InvalidArgument, NotFound, PermissionDenied, Unimplemented
from rtcc.core.runtime import Runtime
from rtcc.ingest.lease_store import LeaseStore

T = TypeVar("T")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AnalyticsService"].full_name


class AnalyticsServicer(
    DetectorConfigRpcs,
    CrimeAnalysisRpcs,
    InvestigationRpcs,
    analytics_pb2_grpc.AnalyticsServiceServicer,
):
    def __init__(
        self,
        store: AnalyticsStore,
        configs: DetectorConfigStore,
        statuses: DetectorStatusStore,
        scope: CameraScope,
        objects: ObjectStore,
        bus: EventBus,
        audit: AccessAudit | None = None,
        recheck_s: float = 2.0,
    ) -> None:
        self.store = store
        self.configs = configs
        self.statuses = statuses
        self.scope = scope
        self.objects = objects
        self.bus = bus
        self.audit = audit
        self.recheck_s = recheck_s

    async def _scope(self, context: Any, area: Any = None) -> frozenset[str] | None:
        """Cameras whose results the caller may see now (docs/access.md)."""
        return await self.scope.results(Caller.of_call(context), area)

    async def _refusal_audited(
        self, action: str, kind: str, resource_id: str, lookup: Awaitable[T]
    ) -> T:
        """``lookup``'s result; a result the caller may not see (or none) is audited as a
        denial before NOT_FOUND goes out."""
        try:
            return await lookup
        except NotFound:
            if self.audit is not None:
                await self.audit.record(
                    current_principal(), action, kind, resource_id, "denied",
                    "not found or not visible",
                )  # fmt: skip
            raise

    async def _audit(self, action: str, kind: str, resource_id: str, **detail: Any) -> None:
        """Reads of analytics results are audited (who, what, outcome)."""
        if self.audit is not None:
            await self.audit.record(
                current_principal(), action, kind, resource_id, "allowed", **detail
            )

    async def GetEvent(self, request: pb.GetEventRequest, context: Any) -> pb.GetEventResponse:
        scope = await self._scope(context)
        record = await self._refusal_audited(
            "event.read", "event", request.event_id, self.store.get_event(request.event_id, scope)
        )
        await self._audit("event.read", "event", request.event_id)
        return pb.GetEventResponse(event=convert.event(record))

    async def ListEvents(
        self, request: pb.ListEventsRequest, context: Any
    ) -> pb.ListEventsResponse:
        start, end = convert.time_range(request.time_range, now=datetime.now(UTC))
        query = EventQuery(
            start,
            end,
            await self._scope(context),
            camera_ids=list(request.camera_ids),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        records, token = await self.store.list_events(query)
        return pb.ListEventsResponse(
            events=[convert.event(r) for r in records], next_page_token=token
        )

    async def SearchEvents(
        self, request: pb.SearchEventsRequest, context: Any
    ) -> pb.SearchEventsResponse:
        start, end = convert.time_range(request.time_range, now=datetime.now(UTC))
        filters = request.attributes
        if filters.vehicle_makes or filters.extra.fields:
            raise Unimplemented("searching by vehicle make or extra attributes is not supported")
        area = request.area if request.HasField("area") else None
        query = EventQuery(
            start,
            end,
            await self._scope(context, area),
            camera_ids=list(request.camera_ids),
            classes=list(request.classes),
            types=list(request.types),
            colors=list(filters.colors),
            vehicle_types=list(filters.vehicle_types),
            zone_ids=list(request.zone_ids),
            min_confidence=request.min_confidence,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        records, token = await self.store.search_events(query)
        await self._audit("event.search", "event", "*", count=len(records))
        return pb.SearchEventsResponse(
            events=[convert.event(r) for r in records], next_page_token=token
        )

    async def GetPlateRead(
        self, request: pb.GetPlateReadRequest, context: Any
    ) -> pb.GetPlateReadResponse:
        scope, rid = await self._scope(context), request.plate_read_id
        record = await self._refusal_audited(
            "plate_read.read", "plate_read", rid, self.store.get_plate_read(rid, scope)
        )
        await self._audit("plate_read.read", "plate_read", request.plate_read_id)
        return pb.GetPlateReadResponse(plate_read=convert.plate_read(record))

    async def SearchPlateReads(
        self, request: pb.SearchPlateReadsRequest, context: Any
    ) -> pb.SearchPlateReadsResponse:
        start, end = convert.time_range(request.time_range, now=datetime.now(UTC))
        vehicle = request.vehicle_attributes
        if vehicle.vehicle_makes or vehicle.extra.fields:
            raise Unimplemented("searching by vehicle make or extra attributes is not supported")
        area = request.area if request.HasField("area") else None
        query = PlateQuery(
            request.query,
            convert.MODES.get(request.match_mode, convert.MODES[pb.PLATE_MATCH_MODE_EXACT]),
            start,
            end,
            await self._scope(context, area),
            max_edits=request.max_edits or 1,
            camera_ids=list(request.camera_ids),
            regions=list(request.regions),
            min_confidence=request.min_confidence,
            colors=list(vehicle.colors),
            vehicle_types=list(vehicle.vehicle_types),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        matches, token = await self.store.search_plate_reads(query)
        await self._audit("plate_read.search", "plate_read", "*", count=len(matches))
        return pb.SearchPlateReadsResponse(
            matches=[convert.plate_match(m) for m in matches], next_page_token=token
        )

    async def GetSnapshotUrl(
        self, request: pb.GetSnapshotUrlRequest, context: Any
    ) -> pb.GetSnapshotUrlResponse:
        source = request.WhichOneof("source")
        if source is None:
            raise InvalidArgument("set event_id or plate_read_id", field="source")
        if request.cropped:
            raise Unimplemented("cropped snapshots are not stored yet; ask for the whole frame")
        ttl = convert.snapshot_ttl(request.ttl if request.HasField("ttl") else None)
        scope = await self._scope(context)
        if source == "event_id":
            found = await self._refusal_audited(
                "snapshot.url", "event", request.event_id,
                self.store.get_event(request.event_id, scope),
            )  # fmt: skip
            key, kind, rid = found.snapshot_key, "event", request.event_id
        else:
            read = await self._refusal_audited(
                "snapshot.url", "plate_read", request.plate_read_id,
                self.store.get_plate_read(request.plate_read_id, scope),
            )  # fmt: skip
            key, kind, rid = read.snapshot_key, "plate_read", request.plate_read_id
        if not key:
            raise NotFound(f"{kind} {rid!r} has no snapshot")
        await self.store.audit(current_principal(), "snapshot.url", kind, rid)
        url = await self.objects.presign_get(BUCKET, key, ttl)
        expires = convert.timestamp(datetime.now(UTC) + ttl)
        return pb.GetSnapshotUrlResponse(url=url, expire_time=expires, content_type="image/jpeg")

    async def SubscribeEvents(
        self, request: pb.SubscribeEventsRequest, context: Any
    ) -> AsyncIterator[pb.SubscribeEventsResponse]:
        area = request.area if request.HasField("area") else None
        caller = Caller.of_call(context)
        allowed = await self.scope.results(caller, area)
        watched = allowed if not request.camera_ids else frozenset(request.camera_ids)
        if allowed is not None and request.camera_ids:
            watched = frozenset(request.camera_ids) & allowed

        async def check() -> None:  # revocation, a closing window, an expired token
            assert caller.principal is not None
            require_unexpired(caller.principal)
            now_allowed = await self.scope.results(caller)
            if watched is not None and now_allowed is not None and watched - now_allowed:
                lost = sorted(watched - now_allowed)[0]
                raise PermissionDenied(
                    f"your organisation may no longer see the analytics results of camera "
                    f"{lost} (grant revoked, expired or outside its window); subscribe again"
                )

        events = subscribe(request, allowed, self.store, self.bus)
        source = events if caller.is_service else rechecked(events, check, self.recheck_s)
        async for response in source:
            yield response


ANALYTICS_LEASE_TTL_S = 10.0


def build_worker(
    runtime: Runtime,
    store: AnalyticsStore,
    configs: DetectorConfigStore,
    statuses: DetectorStatusStore,
    clients: Clients | None = None,
) -> AnalyticsWorker:
    clients = clients or for_service(runtime, "analytics")
    ingest = clients.ingest  # leases through the typed client; frames over its raw stub

    def frames(camera_id: str, config: pb.DetectorConfig) -> AsyncIterator[tuple[datetime, Frame]]:
        fps = config.fps or detector_config.DEFAULT_FPS
        return ingest_frames(ingest.stub(), camera_id, fps=fps, max_width=640)

    replica_id = f"{socket.gethostname()}:{os.getpid()}"
    heartbeats = LeaseStore(runtime.db)
    beat_ttl = timedelta(seconds=ANALYTICS_LEASE_TTL_S)

    async def peers() -> list[str]:
        # The live analytics replicas, each beating in the shared database like ingest's;
        # a dead one drops out with its leases (same TTL), so takeover is not delayed.
        return await heartbeats.heartbeat(replica_id, ANALYTICS_POOL, beat_ttl)

    async def leave() -> None:
        await heartbeats.leave(replica_id, ANALYTICS_POOL)

    return AnalyticsWorker(
        configs=configs,
        leases=ingest,
        frames=frames,
        directory=RegistryCameraDirectory(clients.registry),
        detectors=lambda config: build_detectors(config, runtime.settings.analytics),
        sink=StoringSink(store, runtime.objects, runtime.bus),
        replica_id=replica_id,
        lease_ttl_s=ANALYTICS_LEASE_TTL_S,
        statuses=statuses,
        supervisor=runtime.supervisor,
        peers=peers,
        leave=leave,
    )


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    """Serve AnalyticsService and start the replica's worker (leases enabled cameras)."""
    clients = for_service(runtime, "analytics")
    scope = CameraScope(clients.access, clients.registry)
    store, configs = AnalyticsStore(runtime.db), DetectorConfigStore(runtime.db)
    statuses = DetectorStatusStore(runtime.db)
    servicer = AnalyticsServicer(
        store, configs, statuses, scope, runtime.objects, runtime.bus,
        audit=clients.audit, recheck_s=clients.recheck_s,
    )  # fmt: skip
    servicer.alerting = clients.alerting  # crime analysis reads external events (CAD)
    analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(servicer, server)
    worker = build_worker(runtime, store, configs, statuses, clients)
    runtime.supervise("analytics-worker", worker.run, target="analytics", critical=True)
    return [SERVICE_NAME]
