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
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc

from rtcc.analytics import config as detector_config
from rtcc.analytics import convert
from rtcc.analytics.access import CameraAccess, RegistryCameraAccess, bearer
from rtcc.analytics.config_store import DetectorConfigStore
from rtcc.analytics.detection import Frame
from rtcc.analytics.detectors.factory import build_detectors
from rtcc.analytics.directory import RegistryCameraDirectory
from rtcc.analytics.frames import ingest_frames
from rtcc.analytics.queries import EventQuery, PlateQuery
from rtcc.analytics.rpc_config import DetectorConfigRpcs
from rtcc.analytics.sink import BUCKET, StoringSink
from rtcc.analytics.status import DetectorStatusStore
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.subscriptions import subscribe
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc
from rtcc.analytics.worker import AnalyticsWorker
from rtcc.backends.bus import EventBus
from rtcc.backends.objectstore import ObjectStore
from rtcc.core.auth import current_principal
from rtcc.core.errors import InvalidArgument, NotFound, Unimplemented
from rtcc.core.runtime import Runtime

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AnalyticsService"].full_name


class AnalyticsServicer(DetectorConfigRpcs, analytics_pb2_grpc.AnalyticsServiceServicer):
    def __init__(
        self,
        store: AnalyticsStore,
        configs: DetectorConfigStore,
        statuses: DetectorStatusStore,
        access: CameraAccess,
        objects: ObjectStore,
        bus: EventBus,
    ) -> None:
        self.store = store
        self.configs = configs
        self.statuses = statuses
        self.access = access
        self.objects = objects
        self.bus = bus

    async def _scope(self, context: Any, area: Any = None) -> frozenset[str] | None:
        principal, token = current_principal(), bearer(context)
        allowed = await self.access.visible(principal, token)
        if area is not None and area.radius_meters > 0:
            near = await self.access.within(
                principal, token, area.center.latitude, area.center.longitude, area.radius_meters
            )
            allowed = near if allowed is None else allowed & near
        elif area is not None and area.HasField("center"):
            raise InvalidArgument("area.radius_meters must be greater than zero", field="area")
        return allowed

    async def GetEvent(self, request: pb.GetEventRequest, context: Any) -> pb.GetEventResponse:
        record = await self.store.get_event(request.event_id, await self._scope(context))
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
        return pb.SearchEventsResponse(
            events=[convert.event(r) for r in records], next_page_token=token
        )

    async def GetPlateRead(
        self, request: pb.GetPlateReadRequest, context: Any
    ) -> pb.GetPlateReadResponse:
        record = await self.store.get_plate_read(request.plate_read_id, await self._scope(context))
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
            found = await self.store.get_event(request.event_id, scope)
            key, kind, rid = found.snapshot_key, "event", request.event_id
        else:
            read = await self.store.get_plate_read(request.plate_read_id, scope)
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
        allowed = await self._scope(context, area)
        async for response in subscribe(request, allowed, self.store, self.bus):
            yield response


class _Ingest:
    """Ingest's API, resolved per call: ingest may live in another process or pod."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def stub(self) -> Any:
        from rtcc.ingest.v1 import ingest_pb2_grpc

        return ingest_pb2_grpc.IngestServiceStub(
            self._runtime.channel("ingest", as_service="analytics")
        )

    def __getattr__(self, method: str) -> Any:
        return getattr(self.stub(), method)


def build_worker(
    runtime: Runtime,
    store: AnalyticsStore,
    configs: DetectorConfigStore,
    statuses: DetectorStatusStore,
) -> AnalyticsWorker:
    ingest = _Ingest(runtime)

    def frames(camera_id: str, config: pb.DetectorConfig) -> AsyncIterator[tuple[datetime, Frame]]:
        fps = config.fps or detector_config.DEFAULT_FPS
        return ingest_frames(ingest.stub(), camera_id, fps=fps, max_width=640)

    return AnalyticsWorker(
        configs=configs,
        leases=ingest,
        frames=frames,
        directory=RegistryCameraDirectory(
            lambda: runtime.channel("registry", as_service="analytics")
        ),
        detectors=build_detectors,
        sink=StoringSink(store, runtime.objects, runtime.bus),
        replica_id=f"{socket.gethostname()}:{os.getpid()}",
        statuses=statuses,
    )


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    """Serve AnalyticsService and start the replica's worker (leases enabled cameras)."""
    access = RegistryCameraAccess(lambda: runtime.channel("registry", as_service="analytics"))
    store, configs = AnalyticsStore(runtime.db), DetectorConfigStore(runtime.db)
    statuses = DetectorStatusStore(runtime.db)
    servicer = AnalyticsServicer(store, configs, statuses, access, runtime.objects, runtime.bus)
    analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server(servicer, server)
    worker = build_worker(runtime, store, configs, statuses)
    runtime.spawn(worker.run(), name="analytics-worker")
    return [SERVICE_NAME]
