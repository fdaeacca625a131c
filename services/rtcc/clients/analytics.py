"""The typed client of AnalyticsService (events, plate reads, snapshots, subscriptions)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc
from rtcc.clients.base import CallPolicy, ChannelFactory, ServiceClient
from rtcc.clients.caller import Caller


class AnalyticsClient(ServiceClient):
    """Every read is idempotent (retried); ``UpdateDetectorConfig`` is a write."""

    service = "analytics"

    def __init__(self, channel: ChannelFactory, policy: CallPolicy | None = None) -> None:
        super().__init__(channel, analytics_pb2_grpc.AnalyticsServiceStub, policy)

    async def get_event(self, event_id: str, *, caller: Caller | None = None) -> pb.Event:
        response = await self.read("GetEvent", pb.GetEventRequest(event_id=event_id), caller=caller)
        return response.event  # type: ignore[no-any-return]

    async def search_events(
        self, request: pb.SearchEventsRequest, *, caller: Caller | None = None
    ) -> pb.SearchEventsResponse:
        return await self.read("SearchEvents", request, caller=caller)  # type: ignore[no-any-return]

    async def get_plate_read(
        self, plate_read_id: str, *, caller: Caller | None = None
    ) -> pb.PlateRead:
        request = pb.GetPlateReadRequest(plate_read_id=plate_read_id)
        response = await self.read("GetPlateRead", request, caller=caller)
        return response.plate_read  # type: ignore[no-any-return]

    async def search_plate_reads(
        self, request: pb.SearchPlateReadsRequest, *, caller: Caller | None = None
    ) -> pb.SearchPlateReadsResponse:
        return await self.read("SearchPlateReads", request, caller=caller)  # type: ignore[no-any-return]

    async def snapshot_url(
        self, request: pb.GetSnapshotUrlRequest, *, caller: Caller | None = None
    ) -> pb.GetSnapshotUrlResponse:
        return await self.read("GetSnapshotUrl", request, caller=caller)  # type: ignore[no-any-return]

    def subscribe_events(
        self, request: pb.SubscribeEventsRequest, *, caller: Caller | None = None
    ) -> AsyncIterator[pb.SubscribeEventsResponse]:
        return self.stream("SubscribeEvents", request, caller=caller)
