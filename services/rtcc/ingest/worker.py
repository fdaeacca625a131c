"""The lease loop: hold a fair share of the cameras and record exactly those.

Every `tick_s` a keep-alive loop beats the replica's heartbeat and renews its leases;
on the same period the tick gives back what is over its share (or no longer to be
recorded), takes free cameras up to its share, and points the recorder at the cameras
it holds. With a 10 s lease and a 3 s tick, a dead
replica's cameras are taken over within about 13 s. Lease times are the database's
(lease_store.py); leases held under this replica's id by a previous life of it (a
restart on the same data) are taken back at the first tick.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import structlog

from rtcc.core.errors import FailedPrecondition, RtccError
from rtcc.ingest.directory import CameraDirectory
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import INGEST_POOL, Lease, plan
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.segment import MAIN
from rtcc.ingest.session import CameraSource
from rtcc.ingest.status_store import StatusStore

log = structlog.get_logger("rtcc.ingest.worker")


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    replica_id: str
    # Where other replicas reach this one for live streams (recorded in its leases).
    address: str = ""
    lease_ttl_s: float = 10.0
    tick_s: float = 3.0
    # Most cameras held at once (0: no limit); see IngestSettings.max_cameras.
    max_cameras: int = 0


class IngestWorker:
    """Owns the leases of one replica and drives its recorder."""

    def __init__(
        self,
        directory: CameraDirectory,
        leases: LeaseStore,
        recorder: Recorder,
        statuses: StatusStore,
        options: WorkerOptions,
    ) -> None:
        self.directory, self.leases, self.recorder = directory, leases, recorder
        self.statuses, self.options = statuses, options
        self.held: dict[str, Lease] = {}
        self._cameras: dict[str, CameraSource] = {}
        self._live: list[str] = []  # live replicas, as the last heartbeat saw them
        self.log = log.bind(replica_id=options.replica_id)

    @property
    def ttl(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.options.lease_ttl_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop`, then give everything back."""
        await self.recorder.start()
        keeper = asyncio.create_task(self._keep_alive(stop), name="ingest-lease-keeper")
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except RtccError as exc:  # database away: keep recording, try again
                    self.log.warning("lease_tick_failed", error=str(exc))
                except Exception:
                    self.log.exception("lease_tick_crashed")
                await self._wait(stop)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await self.shutdown()

    async def _keep_alive(self, stop: asyncio.Event) -> None:
        """The heartbeat and the renewals on their own schedule, doing nothing else.

        A tick also waits on the registry, on sessions starting and on health reports;
        on a loaded node one tick could outlast the 10 s lease, and every camera of the
        replica was then lost and retaken (the 100-camera run's churn). This loop keeps
        the leases whatever the tick is waiting for.
        """
        while not stop.is_set():
            try:
                self._live = await self.leases.heartbeat(
                    self.options.replica_id, INGEST_POOL, self.ttl
                )
                await self._renew()
            except RtccError as exc:  # database away: the tick reports it too
                self.log.debug("lease_keep_alive_failed", error=str(exc))
            except Exception:
                self.log.exception("lease_keep_alive_crashed")
            try:
                await asyncio.wait_for(stop.wait(), self.options.tick_s)
            except TimeoutError:
                pass

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until the next tick, `stop`, or a change of the camera list (acted on at once)."""
        changed = self.directory.changed
        waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(changed.wait())}
        try:
            await asyncio.wait(waits, timeout=self.options.tick_s, return_when="FIRST_COMPLETED")
        finally:
            for waiter in waits:
                waiter.cancel()
        changed.clear()

    async def tick(self) -> None:
        me = self.options.replica_id
        # The heartbeat and the renewals are the keep-alive loop's (every lease time is
        # the database's own, lease_store.py). The live replicas are read afresh: the
        # keep-alive's list can be a tick old, and a dead replica's cameras would then
        # wait a tick more after its heartbeat expired (TTL + 2 ticks, 16 s, instead
        # of TTL + 1).
        if self._live:
            live = sorted({*await self.leases.live(INGEST_POOL), me})
        else:
            live = await self.leases.heartbeat(me, INGEST_POOL, self.ttl)
        await self._refresh_cameras()
        current = {lease.camera_id: lease for lease in await self.leases.unexpired(INGEST_POOL)}
        holders = {camera_id: lease.replica_id for camera_id, lease in current.items()}
        decision = plan(me, sorted(self._cameras), live, holders, self.options.max_cameras)
        unheld = len(set(self._cameras) - set(holders))
        if self.options.max_cameras and unheld and not decision.acquire:
            # Every replica is at its limit (or this one is and the rest are taking
            # theirs): these cameras are not recorded until a replica is added.
            self.log.warning(
                "ingest_over_capacity",
                unrecorded=unheld,
                max_cameras=self.options.max_cameras,
                replicas=len(live),
            )
        for camera_id in decision.release:
            await self._release(camera_id, current.get(camera_id))
        # Leases held under this replica's id but not by this process: a previous life
        # of this replica (restarted on the same data) held them; take them back now
        # instead of waiting for them to expire.
        adopt = [c for c, h in holders.items() if h == me and c not in self.held]
        for camera_id in [*(c for c in adopt if c not in decision.release), *decision.acquire]:
            try:
                self.held[camera_id] = await self.leases.acquire(
                    camera_id, INGEST_POOL, me, self.ttl, self.options.address
                )
            except FailedPrecondition:
                continue  # another replica was quicker
        await self.recorder.ensure([self._cameras[c] for c in self.held if c in self._cameras])
        await self.recorder.reap_substreams()
        await self._report(_now())

    async def _refresh_cameras(self) -> None:
        try:
            self._cameras = {c.camera_id: c for c in await self.directory.cameras()}
        except Exception as exc:  # registry away: keep recording what we know
            self.log.warning("camera_directory_unavailable", error=str(exc))

    async def _renew(self) -> None:
        """Renew every held lease in one statement; retake or drop the ones lost.

        Runs in the keep-alive loop, interleaved with the tick: a lease released or
        retaken meanwhile (its entry gone or its epoch changed) is left to the tick.
        """
        me = self.options.replica_id
        epochs = {camera_id: lease.epoch for camera_id, lease in self.held.items()}
        renewed = await self.leases.renew_many(INGEST_POOL, me, epochs, self.ttl)
        for camera_id, lease in renewed.items():
            if self._holds(camera_id, lease.epoch):
                self.held[camera_id] = lease
        for camera_id, epoch in epochs.items():
            if camera_id in renewed or not self._holds(camera_id, epoch):
                continue
            # Expired (the database was away longer than the lease) but nobody took it:
            # take it again and keep recording, without a gap. Only a camera another
            # replica now holds is stopped here.
            try:
                lease = await self.leases.acquire(
                    camera_id, INGEST_POOL, me, self.ttl, self.options.address
                )
            except FailedPrecondition:
                if self._holds(camera_id, epoch):
                    self.log.warning("lease_lost", camera_id=camera_id)
                    del self.held[camera_id]
                    await self.recorder.remove((camera_id, 1))
                continue
            if camera_id in self.held:
                self.held[camera_id] = lease
                self.log.info("lease_retaken_after_expiry", camera_id=camera_id)
            else:  # released by the tick meanwhile: give it back
                await self.leases.release(camera_id, INGEST_POOL, me, lease.epoch)

    def _holds(self, camera_id: str, epoch: int) -> bool:
        held = self.held.get(camera_id)
        return held is not None and held.epoch == epoch

    async def _release(self, camera_id: str, current: Lease | None = None) -> None:
        lease = self.held.pop(camera_id, None)
        if lease is None and current is not None and current.replica_id == self.options.replica_id:
            lease = current  # held by a previous life of this replica
        await self.recorder.remove((camera_id, 1))
        if lease is not None:
            await self.leases.release(camera_id, INGEST_POOL, lease.replica_id, lease.epoch)

    async def _report(self, now: dt.datetime) -> None:
        items = [
            (s.source.camera_id, s.source.stream, s.health()) for s in self.recorder.all_sessions()
        ]
        await self.statuses.write(self.options.replica_id, items, now)
        try:
            await self.directory.report_health([(c, h) for c, st, h in items if st == MAIN])
        except Exception as exc:
            self.log.debug("health_report_failed", error=str(exc))

    async def shutdown(self) -> None:
        """Stop recording (closing segments), then release leases so others take over."""
        await self.recorder.stop()
        for camera_id in list(self.held):
            try:
                await self._release(camera_id)
            except RtccError as exc:
                self.log.warning("lease_release_failed", camera_id=camera_id, error=str(exc))
        try:
            await self.leases.leave(self.options.replica_id, INGEST_POOL)
        except RtccError:
            pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
