"""The typed client of IngestService (leases, segments, ranges, live packets and frames)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from rtcc.clients.base import CallPolicy, ChannelFactory, ServiceClient
from rtcc.clients.caller import Caller
from rtcc.common import time as wire_time
from rtcc.common.v1 import common_pb2
from rtcc.ingest.v1 import ingest_pb2 as pb
from rtcc.ingest.v1 import ingest_pb2_grpc


class IngestClient(ServiceClient):
    """Lease calls are writes (never retried) except listing; segment reads are retried.

    Streams (``stream_packets``, ``stream_frames``, ``read_range``) have no deadline
    unless given; the caller owns their lifetime.
    """

    service = "ingest"

    def __init__(self, channel: ChannelFactory, policy: CallPolicy | None = None) -> None:
        super().__init__(channel, ingest_pb2_grpc.IngestServiceStub, policy)

    # Leases ------------------------------------------------------------------------
    async def ListCameraLeases(
        self, request: pb.ListCameraLeasesRequest
    ) -> pb.ListCameraLeasesResponse:
        return await self.read("ListCameraLeases", request)  # type: ignore[no-any-return]

    async def AcquireCameraLease(
        self, request: pb.AcquireCameraLeaseRequest
    ) -> pb.AcquireCameraLeaseResponse:
        return await self.write("AcquireCameraLease", request)  # type: ignore[no-any-return]

    async def RenewCameraLease(
        self, request: pb.RenewCameraLeaseRequest
    ) -> pb.RenewCameraLeaseResponse:
        return await self.write("RenewCameraLease", request)  # type: ignore[no-any-return]

    async def ReleaseCameraLease(
        self, request: pb.ReleaseCameraLeaseRequest
    ) -> pb.ReleaseCameraLeaseResponse:
        return await self.write("ReleaseCameraLease", request)  # type: ignore[no-any-return]

    # Recordings --------------------------------------------------------------------
    async def list_segments(
        self,
        camera_id: str,
        start: datetime,
        end: datetime | None = None,
        *,
        page_token: str = "",
        page_size: int = 0,
        caller: Caller | None = None,
    ) -> pb.ListSegmentsResponse:
        request = pb.ListSegmentsRequest(
            camera_id=camera_id,
            time_range=common_pb2.TimeRange(
                start_time=wire_time.to_timestamp(start), end_time=wire_time.to_timestamp(end)
            ),
            page_size=page_size,
            page_token=page_token,
        )
        return await self.read("ListSegments", request, caller=caller)  # type: ignore[no-any-return]

    async def locate_segment(
        self, camera_id: str, when: datetime, *, caller: Caller | None = None
    ) -> pb.LocateSegmentResponse:
        request = pb.LocateSegmentRequest(camera_id=camera_id, time=wire_time.to_timestamp(when))
        return await self.read("LocateSegment", request, caller=caller)  # type: ignore[no-any-return]

    def read_range(
        self, request: pb.ReadRangeRequest, *, caller: Caller | None = None
    ) -> AsyncIterator[pb.ReadRangeResponse]:
        return self.stream("ReadRange", request, caller=caller)

    # Live --------------------------------------------------------------------------
    def stream_packets(
        self, request: pb.StreamPacketsRequest, *, caller: Caller | None = None
    ) -> AsyncIterator[pb.StreamPacketsResponse]:
        return self.stream("StreamPackets", request, caller=caller)

    def stream_frames(
        self, request: pb.StreamFramesRequest, *, caller: Caller | None = None
    ) -> AsyncIterator[pb.StreamFramesResponse]:
        return self.stream("StreamFrames", request, caller=caller)

    async def stream_status(
        self, camera_id: str, *, caller: Caller | None = None
    ) -> pb.GetStreamStatusResponse:
        request = pb.GetStreamStatusRequest(camera_id=camera_id)
        return await self.read("GetStreamStatus", request, caller=caller)  # type: ignore[no-any-return]
