"""The analytics replica's loop: lease enabled cameras, run one pipeline per camera.

Every ``poll_s`` the worker reads the enabled detector configs, tries to lease (pool
ANALYTICS, from ingest) the cameras it does not run yet, and stops the cameras whose
config was disabled or changed (a changed config restarts the camera with it). With
``peers`` (the live analytics replicas, from a heartbeat in the shared database) each
replica holds at most its fair share of the enabled cameras — the same plan as ingest's
(rtcc.ingest.leases.plan: balanced, sticky by rendezvous hashing) — so N replicas split
the cameras and a replica that joins late is handed some; without it a replica leases
whatever is free, up to ``max_cameras``. Each
camera task renews its lease every third of the TTL; losing the lease stops the
camera, so a dead or partitioned replica's cameras move within seconds. A camera whose
frame stream ends or fails is retried with backoff; one bad camera never stalls others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog
from google.protobuf import duration_pb2

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.config_store import DetectorConfigStore
from rtcc.analytics.detection import Frame
from rtcc.analytics.events import EventSink
from rtcc.analytics.pipeline import CameraPipeline
from rtcc.analytics.status import DetectorStatusStore, StatusSampler
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.core.errors import RtccError
from rtcc.core.supervisor import Supervisor
from rtcc.ingest.leases import plan
from rtcc.ingest.v1 import ingest_pb2

log = structlog.get_logger("rtcc.analytics.worker")

ANALYTICS_POOL = ingest_pb2.LEASE_POOL_ANALYTICS
FrameSource = Callable[[str, pb.DetectorConfig], AsyncIterator[tuple[datetime, Frame]]]
# Beats this replica's heartbeat; returns every live replica of the pool (itself included).
Peers = Callable[[], Awaitable[list[str]]]


class CameraDirectory(Protocol):
    """What the worker needs to know about a camera (the registry, for the service)."""

    async def setup(self, camera_id: str, config: pb.DetectorConfig) -> CameraSetup: ...


@dataclass
class _Running:
    etag: str
    task: asyncio.Task[None]
    detectors: list[int]
    epoch: int = 0
    pipeline: CameraPipeline | None = None
    last_error: str = ""
    sampler: StatusSampler = field(default_factory=StatusSampler)


class AnalyticsWorker:
    def __init__(
        self,
        *,
        configs: DetectorConfigStore,
        leases: Any,
        frames: FrameSource,
        directory: CameraDirectory,
        detectors: Callable[[pb.DetectorConfig], DetectorSet],
        sink: EventSink,
        replica_id: str,
        max_cameras: int = 8,
        poll_s: float = 5.0,
        lease_ttl_s: float = 10.0,
        retry_s: float = 5.0,
        statuses: DetectorStatusStore | None = None,
        report_s: float = 5.0,
        supervisor: Supervisor | None = None,
        peers: Peers | None = None,
        leave: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._configs, self._leases, self._frames = configs, leases, frames
        self._directory, self._detectors, self._sink = directory, detectors, sink
        self.replica_id = replica_id
        self._max, self._poll_s = max_cameras, poll_s
        self._ttl_s, self._retry_s = lease_ttl_s, retry_s
        self._statuses, self._report_s = statuses, report_s
        self.running: dict[str, _Running] = {}
        # Owns each camera's sink loop (the process's supervisor in the service).
        self._supervisor = supervisor
        self._peers, self._leave = peers, leave

    async def run(self) -> None:
        """Reconcile until cancelled; then stop every camera and release its lease."""
        loop = asyncio.get_running_loop()
        reported = loop.time()
        try:
            while True:
                try:
                    await self.reconcile()
                    if loop.time() - reported >= self._report_s:
                        reported = loop.time()
                        await self.report()
                except asyncio.CancelledError:
                    raise
                except RtccError as exc:  # ingest or the database away: the next pass retries
                    log.warning("analytics_reconcile_failed", replica_id=self.replica_id,
                                error=str(exc))  # fmt: skip
                except Exception:
                    log.exception("analytics_reconcile_failed", replica_id=self.replica_id)
                await asyncio.sleep(self._poll_s)
        finally:
            for camera_id in list(self.running):
                await self._stop(camera_id)
            if self._leave is not None:  # the others take this replica's share at once
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._leave())

    async def reconcile(self) -> None:
        wanted = {c.camera_id: c for c in await self._enabled()}
        for camera_id, running in list(self.running.items()):
            config = wanted.get(camera_id)
            if config is None or config.etag != running.etag or running.task.done():
                await self._stop(camera_id)
        candidates = sorted(wanted)
        if self._peers is not None:
            live = await self._peers()
            holders = await self._holders()
            holders.update({camera_id: self.replica_id for camera_id in self.running})
            share = plan(self.replica_id, candidates, live, holders)
            for camera_id in share.release:  # over this replica's share: hand it over
                log.info("analytics_camera_handed_over", camera_id=camera_id, replicas=len(live))
                await self._stop(camera_id)
            candidates = share.acquire
        for camera_id in candidates:
            config = wanted[camera_id]
            if camera_id in self.running or len(self.running) >= self._max:
                continue
            lease = await self._acquire(camera_id)
            if lease is not None:
                task = asyncio.create_task(
                    self._camera(config, lease), name=f"analytics-{camera_id}"
                )
                detectors = sorted({int(d) for d in config.detectors} or {pb.DETECTOR_TYPE_OBJECT})
                self.running[camera_id] = _Running(config.etag, task, detectors, lease.epoch)

    async def report(self) -> None:
        """Store every running camera's status, for GetDetectorStatus on any replica."""
        if self._statuses is None:
            return
        now = datetime.now(UTC)
        for camera_id, running in list(self.running.items()):
            stats = running.pipeline.stats if running.pipeline is not None else None
            report = running.sampler.report(
                camera_id, self.replica_id, running.detectors, stats, running.last_error, now
            )
            await self._statuses.put(report)

    async def _enabled(self) -> list[pb.DetectorConfig]:
        found: list[pb.DetectorConfig] = []
        after = ""
        while True:
            page = await self._configs.page(None, enabled_only=True, after=after, limit=500)
            found += page
            if len(page) < 500:
                return found
            after = page[-1].camera_id

    async def _holders(self) -> dict[str, str]:
        """Camera -> replica for every unexpired ANALYTICS lease."""
        holders: dict[str, str] = {}
        token = ""
        while True:
            request = ingest_pb2.ListCameraLeasesRequest(
                pool=ANALYTICS_POOL, page_size=1000, page_token=token
            )
            reply = await self._leases.ListCameraLeases(request)
            holders.update({lease.camera_id: lease.replica_id for lease in reply.leases})
            token = reply.next_page_token
            if not token:
                return holders

    def _ttl(self) -> duration_pb2.Duration:
        ttl = duration_pb2.Duration()
        ttl.FromTimedelta(timedelta(seconds=self._ttl_s))
        return ttl

    async def _acquire(self, camera_id: str) -> Any:
        request = ingest_pb2.AcquireCameraLeaseRequest(
            camera_id=camera_id,
            pool=ANALYTICS_POOL,
            replica_id=self.replica_id,
            ttl=self._ttl(),  # type: ignore[arg-type]
        )
        try:
            return (await self._leases.AcquireCameraLease(request)).lease
        except Exception as exc:  # held by another replica, or ingest unreachable
            log.debug("analytics_lease_not_acquired", camera_id=camera_id, reason=str(exc)[:200])
            return None

    async def _stop(self, camera_id: str) -> None:
        running = self.running.pop(camera_id, None)
        if running is None:
            return
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task
        # Released here, not in the task: a task cancelled before it first ran never
        # reaches its own clean-up, and its lease would stay held until it expired.
        await self._release(camera_id, running.epoch)

    async def _camera(self, config: pb.DetectorConfig, lease: Any) -> None:
        renewing = asyncio.create_task(self._renew(config.camera_id, lease.epoch))
        try:
            await self._reannounce(config.camera_id)
            while not renewing.done():
                await self._run_pipeline(config)
                await asyncio.sleep(self._retry_s)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewing

    async def _reannounce(self, camera_id: str) -> None:
        """Events a previous holder stored but was killed before announcing (sink.py)."""
        reannounce = getattr(self._sink, "reannounce", None)
        if reannounce is None:
            return
        try:
            sent = await reannounce(camera_id)
        except (RtccError, OSError) as exc:  # the bus or database away: not fatal
            log.warning("analytics_reannounce_failed", camera_id=camera_id, error=str(exc)[:200])
            return
        log.debug("analytics_events_reannounced", camera_id=camera_id, events=sent)

    async def _run_pipeline(self, config: pb.DetectorConfig) -> None:
        camera_id = config.camera_id
        try:
            setup = await self._directory.setup(camera_id, config)
            analyser = CameraAnalyser(setup, await asyncio.to_thread(self._detectors, config))
            pipeline = CameraPipeline(analyser, self._sink, supervisor=self._supervisor)
            if camera_id in self.running:
                self.running[camera_id].pipeline = pipeline
            await pipeline.run(self._frames(camera_id, config))
            log.info("analytics_stream_ended", camera_id=camera_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("analytics_camera_failed", camera_id=camera_id)
            if camera_id in self.running:
                reason = str(exc).strip().splitlines()[0][:300] if str(exc) else type(exc).__name__
                self.running[camera_id].last_error = f"analysis stopped: {reason}"

    async def _renew(self, camera_id: str, epoch: int) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            request = ingest_pb2.RenewCameraLeaseRequest(
                camera_id=camera_id,
                pool=ANALYTICS_POOL,
                replica_id=self.replica_id,
                epoch=epoch,
                ttl=self._ttl(),
            )
            try:
                await self._leases.RenewCameraLease(request)
            except Exception as exc:
                log.warning("analytics_lease_lost", camera_id=camera_id, reason=str(exc)[:200])
                task = self.running.get(camera_id)
                if task is not None:
                    task.task.cancel()
                return

    async def _release(self, camera_id: str, epoch: int) -> None:
        request = ingest_pb2.ReleaseCameraLeaseRequest(
            camera_id=camera_id,
            pool=ANALYTICS_POOL,
            replica_id=self.replica_id,
            epoch=epoch,  # type: ignore[arg-type]
        )
        with contextlib.suppress(Exception):
            await asyncio.shield(self._leases.ReleaseCameraLease(request))
