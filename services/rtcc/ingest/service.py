"""The ingest target: records the cameras this replica leases and serves IngestService.

`setup` builds the recorder, the lease loop (cameras come from the registry's gRPC API,
called as the ingest service) and the retention schedule, and adds the servicer. The
servicer is thin: who is calling, is it allowed, then the domain (api_*.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from rtcc.clients import Caller, for_service
from rtcc.core.auth import current_principal
from rtcc.core.clients import open_channel
from rtcc.core.errors import InvalidArgument
from rtcc.core.runtime import Runtime
from rtcc.ingest import api_live, api_segments, convert
from rtcc.ingest.context import IngestContext
from rtcc.ingest.directory import RegistryDirectory
from rtcc.ingest.identity import ReplicaIdentity, claim_identity
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.retention import Retention, RetentionRun, retention_loop
from rtcc.ingest.roles import require_operator
from rtcc.ingest.routing import LiveRouter
from rtcc.ingest.session import SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.status_store import StatusStore
from rtcc.ingest.store import SegmentIndex
from rtcc.ingest.v1 import ingest_pb2 as pb
from rtcc.ingest.v1 import ingest_pb2_grpc
from rtcc.ingest.worker import IngestWorker, WorkerOptions

SERVICE_NAME = "rtcc.ingest.v1.IngestService"
DEFAULT_TTL = dt.timedelta(seconds=10)
RETENTION_EVERY_S = 3600.0


def _ttl(value: Any) -> dt.timedelta:
    ttl = value.ToTimedelta() if value.seconds or value.nanos else DEFAULT_TTL
    return min(max(ttl, dt.timedelta(seconds=3)), dt.timedelta(seconds=60))


def _pool(value: int) -> int:
    if value not in (pb.LEASE_POOL_INGEST, pb.LEASE_POOL_ANALYTICS):
        raise InvalidArgument(
            "pool must be LEASE_POOL_INGEST or LEASE_POOL_ANALYTICS", field="pool"
        )
    return value


def _run(run: RetentionRun) -> pb.RetentionRun:
    return pb.RetentionRun(
        id=run.id, state=run.state, start_time=convert.ts(run.start_time),  # type: ignore[arg-type]
        end_time=convert.ts(run.end_time), cutoff_time=convert.ts(run.cutoff_time),
        segments_deleted=run.segments_deleted, bytes_deleted=run.bytes_deleted,
        segments_held=run.segments_held, error=run.error, trigger=run.trigger,
    )  # fmt: skip


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, ctx: IngestContext) -> None:
        self.ctx = ctx

    async def ListCameraLeases(self, request: Any, context: Any) -> pb.ListCameraLeasesResponse:
        require_operator(current_principal())
        size = convert.page_size(request.page_size)
        after = convert.decode_token(request.page_token, 1)[0] if request.page_token else ""
        rows = await self.ctx.leases.unexpired(
            request.pool, replica_id=request.replica_id,
            camera_id=request.camera_id, after=after, limit=size + 1,
        )  # fmt: skip
        token = convert.encode_token(rows[size - 1].camera_id) if len(rows) > size else ""
        return pb.ListCameraLeasesResponse(
            leases=[convert.lease(r) for r in rows[:size]], next_page_token=token
        )

    async def AcquireCameraLease(self, request: Any, context: Any) -> Any:
        require_operator(current_principal())
        if not request.camera_id or not request.replica_id:
            raise InvalidArgument("camera_id and replica_id are required")
        lease = await self.ctx.leases.acquire(
            request.camera_id, _pool(request.pool), request.replica_id, _ttl(request.ttl)
        )
        return pb.AcquireCameraLeaseResponse(lease=convert.lease(lease))

    async def RenewCameraLease(self, request: Any, context: Any) -> Any:
        require_operator(current_principal())
        lease = await self.ctx.leases.renew(
            request.camera_id, _pool(request.pool), request.replica_id, request.epoch,
            _ttl(request.ttl),
        )  # fmt: skip
        return pb.RenewCameraLeaseResponse(lease=convert.lease(lease))

    async def ReleaseCameraLease(self, request: Any, context: Any) -> Any:
        require_operator(current_principal())
        await self.ctx.leases.release(
            request.camera_id, _pool(request.pool), request.replica_id, request.epoch
        )
        return pb.ReleaseCameraLeaseResponse()

    async def GetSegment(self, request: Any, context: Any) -> Any:
        return await api_segments.get_segment(self.ctx, current_principal(), request)

    async def ListSegments(self, request: Any, context: Any) -> Any:
        return await api_segments.list_segments(self.ctx, current_principal(), request)

    async def LocateSegment(self, request: Any, context: Any) -> Any:
        return await api_segments.locate_segment(self.ctx, current_principal(), request)

    async def ReadRange(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for item in api_segments.read_range(self.ctx, current_principal(), request):
            yield item

    async def StreamPackets(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for item in api_live.stream_packets(self.ctx, current_principal(), request):
            yield item

    async def StreamFrames(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for item in api_live.stream_frames(self.ctx, current_principal(), request):
            yield item

    async def GetStreamStatus(self, request: Any, context: Any) -> Any:
        return await api_live.get_stream_status(self.ctx, current_principal(), request)

    async def ListStreamStatuses(self, request: Any, context: Any) -> Any:
        # Any member may ask; the policy filters to the cameras whose health it may see.
        return await api_live.list_stream_statuses(self.ctx, Caller.of_call(context), request)

    async def GetRetentionRun(self, request: Any, context: Any) -> Any:
        require_operator(current_principal())
        run = await self.ctx.retention.get(request.retention_run_id)
        return pb.GetRetentionRunResponse(retention_run=_run(run))

    async def ListRetentionRuns(self, request: Any, context: Any) -> Any:
        require_operator(current_principal())
        size = convert.page_size(request.page_size, default=50)
        before = None
        if request.page_token:
            when, run_id = convert.decode_token(request.page_token, 2)
            before = (dt.datetime.fromisoformat(when), run_id)
        runs = await self.ctx.retention.list(size + 1, before)
        token = ""
        if len(runs) > size:
            token = convert.encode_token(runs[size - 1].start_time.isoformat(), runs[size - 1].id)
        return pb.ListRetentionRunsResponse(
            retention_runs=[_run(r) for r in runs[:size]], next_page_token=token
        )

    async def StartRetentionRun(self, request: Any, context: Any) -> Any:
        who = current_principal()
        require_operator(who)
        run = await self.ctx.retention.start(who.subject, dt.datetime.now(dt.UTC))
        task = asyncio.create_task(self.ctx.retention.execute(run), name=f"retention-{run.id}")
        self.ctx.background.add(task)
        task.add_done_callback(self.ctx.background.discard)
        return pb.StartRetentionRunResponse(retention_run=_run(run))


def _opener(runtime: Runtime) -> Callable[[str], grpc.aio.Channel]:
    """Channels to other ingest replicas (by address), as the ingest service."""
    settings = runtime.settings

    def open_to(address: str) -> grpc.aio.Channel:
        return open_channel(
            address,
            token=lambda: runtime.service_token("ingest"),
            max_message_bytes=settings.max_message_bytes,
            tls=settings.tls,
        )

    return open_to


async def _hold(identity: ReplicaIdentity) -> None:
    """Keep the data directory locked until the process stops."""
    try:
        await asyncio.Event().wait()
    finally:
        identity.close()


def build_context(runtime: Runtime, replica_id: str) -> IngestContext:
    settings = runtime.settings
    index = SegmentIndex(runtime.db)
    recorder = Recorder(
        Spool(settings.data_dir / "ingest-spool"),
        runtime.objects,
        index,
        runtime.bus,
        settings=SessionSettings(
            segment_s=settings.ingest.segment_seconds, engine=settings.ingest.engine
        ),
        supervisor=runtime.supervisor,
    )
    return IngestContext(
        replica_id=replica_id,
        db=runtime.db,
        objects=runtime.objects,
        index=index,
        leases=LeaseStore(runtime.db),
        statuses=StatusStore(runtime.db),
        recorder=recorder,
        retention=Retention(runtime.db, runtime.objects),
        access=for_service(runtime, "ingest").access,
        recheck_s=runtime.settings.access.recheck_s,
    )


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    """Serve IngestService; start the lease loop and the retention schedule."""
    identity = claim_identity(runtime.settings.data_dir, runtime.settings.ingest.replica_id)
    runtime.spawn(_hold(identity), name="ingest-data-dir-lock")
    replica_id = identity.replica_id
    ctx = build_context(runtime, replica_id)
    address = runtime.settings.ingest.advertise_address or runtime.self_address
    ctx.routing = LiveRouter(ctx.leases, ctx.recorder, replica_id, _opener(runtime))
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(ctx), server)
    directory = RegistryDirectory(lambda: runtime.channel("registry", as_service="ingest"))
    worker = IngestWorker(
        directory,
        ctx.leases,
        ctx.recorder,
        ctx.statuses,
        WorkerOptions(
            replica_id=replica_id,
            address=address,
            max_cameras=runtime.settings.ingest.max_cameras,
        ),
    )
    stop = asyncio.Event()  # runtime.close() cancels the loops; each cleans up on the way out
    # The lease loop is critical: without it this replica records nothing it should.
    runtime.supervise("ingest-lease-loop", lambda: worker.run(stop), target="ingest", critical=True)
    runtime.supervise("ingest-camera-watch", lambda: directory.watch(stop), target="ingest")
    runtime.supervise(
        "ingest-retention",
        lambda: retention_loop(ctx.retention, stop, RETENTION_EVERY_S),
        target="ingest",
    )
    return [SERVICE_NAME]
