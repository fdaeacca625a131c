"""The replica loop: lease enabled cameras, run them, stop and release them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import grpc

from rtcc.analytics.analysis import CameraSetup, DetectorSet
from rtcc.analytics.detection import Frame, ObjectClass
from rtcc.analytics.events import CollectingSink
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.worker import AnalyticsWorker
from rtcc.ingest.v1 import ingest_pb2

from .synthetic import BlobDetector, Mover, frames

CAR = Mover(ObjectClass.VEHICLE, (0, 0, 200), (20, 150), (100, 0), (200, 110))


class _Configs:
    def __init__(self, *configs: pb.DetectorConfig) -> None:
        self.configs = list(configs)

    async def page(self, allowed: Any, *, enabled_only: bool, after: str, limit: int) -> list:
        return [c for c in self.configs if c.enabled and c.camera_id > after][:limit]


class _Leases:
    def __init__(
        self, held_elsewhere: frozenset[str] = frozenset(), renew_fails: bool = False
    ) -> None:
        self.held_elsewhere = held_elsewhere
        self.renew_fails = renew_fails
        self.released: list[str] = []

    async def AcquireCameraLease(self, request: Any) -> Any:
        if request.camera_id in self.held_elsewhere:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.FAILED_PRECONDITION, grpc.aio.Metadata(), grpc.aio.Metadata()
            )
        assert request.pool == ingest_pb2.LEASE_POOL_ANALYTICS
        lease = ingest_pb2.CameraLease(camera_id=request.camera_id, epoch=7)
        return ingest_pb2.AcquireCameraLeaseResponse(lease=lease)

    async def RenewCameraLease(self, request: Any) -> Any:
        if self.renew_fails:
            raise RuntimeError("lease lost")
        return ingest_pb2.RenewCameraLeaseResponse()

    async def ReleaseCameraLease(self, request: Any) -> Any:
        assert request.epoch == 7
        self.released.append(request.camera_id)
        return ingest_pb2.ReleaseCameraLeaseResponse()


class _Directory:
    async def setup(self, camera_id: str, config: pb.DetectorConfig) -> CameraSetup:
        return CameraSetup(camera_id, "org_1")


async def _endless(
    camera_id: str, config: pb.DetectorConfig
) -> AsyncIterator[tuple[datetime, Frame]]:
    for item in frames([CAR], 2.0):
        yield item
    await asyncio.Event().wait()  # a live stream: no more frames for now


class _Statuses:
    def __init__(self) -> None:
        self.reports: list[Any] = []

    async def put(self, report: Any) -> None:
        self.reports.append(report)


def _worker(
    configs: _Configs, leases: _Leases, sink: CollectingSink, statuses: Any = None
) -> AnalyticsWorker:
    return AnalyticsWorker(
        configs=configs,  # type: ignore[arg-type]
        leases=leases,
        frames=_endless,
        directory=_Directory(),
        detectors=lambda config: DetectorSet(objects=BlobDetector()),
        sink=sink,
        replica_id="replica-1",
        poll_s=0.05,
        lease_ttl_s=0.3,
        retry_s=0.05,
        statuses=statuses,
        report_s=0.05,
    )


async def _until(condition: Any) -> None:
    """Poll ``condition`` for up to 5 s (the worker has no event to wait on)."""
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met within 5 s")


async def test_enabled_cameras_are_leased_run_and_released_when_disabled() -> None:
    configs = _Configs(
        pb.DetectorConfig(camera_id="cam_a", enabled=True, etag="1"),
        pb.DetectorConfig(camera_id="cam_b", enabled=False, etag="1"),
    )
    leases, sink = _Leases(), CollectingSink()
    worker = _worker(configs, leases, sink)
    task = asyncio.create_task(worker.run())
    await _until(lambda: sink.events)
    assert set(worker.running) == {"cam_a"}
    assert {e.event.camera_id for e in sink.events} == {"cam_a"}
    configs.configs[0].enabled = False
    await _until(lambda: leases.released == ["cam_a"])
    assert worker.running == {}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_cameras_leased_by_another_replica_are_left_alone() -> None:
    configs = _Configs(pb.DetectorConfig(camera_id="cam_a", enabled=True))
    worker = _worker(configs, _Leases(held_elsewhere=frozenset({"cam_a"})), CollectingSink())
    await worker.reconcile()
    assert worker.running == {}


async def test_a_lost_lease_stops_the_camera() -> None:
    configs = _Configs(pb.DetectorConfig(camera_id="cam_a", enabled=True))
    leases = _Leases(renew_fails=True)
    worker = _worker(configs, leases, CollectingSink())
    await worker.reconcile()
    running = worker.running["cam_a"]
    await _until(lambda: running.task.done())
    leases.held_elsewhere = frozenset({"cam_a"})  # the lease went to another replica
    await worker.reconcile()  # the next pass forgets the camera and gives back its epoch
    assert worker.running == {} and leases.released == ["cam_a"]


async def test_running_cameras_report_their_status() -> None:
    configs = _Configs(pb.DetectorConfig(camera_id="cam_a", enabled=True))
    statuses, sink = _Statuses(), CollectingSink()
    worker = _worker(configs, _Leases(), sink, statuses)
    task = asyncio.create_task(worker.run())
    await _until(lambda: sink.events and statuses.reports)
    await _until(lambda: statuses.reports[-1].last_event_time is not None)
    report = statuses.reports[-1]
    assert report.camera_id == "cam_a" and report.detectors == [pb.DETECTOR_TYPE_OBJECT]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class _LeaseTable:
    """One shared table of ANALYTICS leases, as ingest keeps it, seen by several replicas."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}

    async def ListCameraLeases(self, request: Any) -> Any:
        assert request.pool == ingest_pb2.LEASE_POOL_ANALYTICS
        leases = [
            ingest_pb2.CameraLease(camera_id=c, replica_id=r, epoch=7)
            for c, r in sorted(self.holders.items())
        ]
        return ingest_pb2.ListCameraLeasesResponse(leases=leases)

    async def AcquireCameraLease(self, request: Any) -> Any:
        holder = self.holders.setdefault(request.camera_id, request.replica_id)
        if holder != request.replica_id:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.FAILED_PRECONDITION, grpc.aio.Metadata(), grpc.aio.Metadata()
            )
        lease = ingest_pb2.CameraLease(camera_id=request.camera_id, epoch=7)
        return ingest_pb2.AcquireCameraLeaseResponse(lease=lease)

    async def RenewCameraLease(self, request: Any) -> Any:
        return ingest_pb2.RenewCameraLeaseResponse()

    async def ReleaseCameraLease(self, request: Any) -> Any:
        if self.holders.get(request.camera_id) == request.replica_id:
            del self.holders[request.camera_id]
        return ingest_pb2.ReleaseCameraLeaseResponse()


def _replica(name: str, configs: _Configs, table: _LeaseTable, live: list[str]) -> AnalyticsWorker:
    async def peers() -> list[str]:
        return sorted(live)

    return AnalyticsWorker(
        configs=configs,  # type: ignore[arg-type]
        leases=table,
        frames=_endless,
        directory=_Directory(),
        detectors=lambda config: DetectorSet(objects=BlobDetector()),
        sink=CollectingSink(),
        replica_id=name,
        poll_s=0.05,
        lease_ttl_s=30,
        peers=peers,
    )


async def test_replicas_split_the_cameras_and_a_late_one_is_handed_its_share() -> None:
    configs = _Configs(
        *(pb.DetectorConfig(camera_id=f"cam_{n}", enabled=True, etag="1") for n in range(5))
    )
    table, live = _LeaseTable(), ["a"]
    first = _replica("a", configs, table, live)
    await first.reconcile()
    assert len(first.running) == 5  # alone: every camera

    live.append("b")
    second = _replica("b", configs, table, live)
    await first.reconcile()  # over its share now: hands two cameras over
    await second.reconcile()
    assert (len(first.running), len(second.running)) == (3, 2)  # fair_share gives "a" the odd one
    assert not set(first.running) & set(second.running)
    assert set(table.holders.values()) == {"a", "b"}

    live.remove("b")  # "b" is gone (its heartbeat expired): "a" takes everything back
    for camera_id in list(second.running):
        await second._stop(camera_id)
    await first.reconcile()
    assert len(first.running) == 5
    for worker in (first, second):
        for camera_id in list(worker.running):
            await worker._stop(camera_id)
