"""Camera leases in the database, and replicas sharing cameras through them."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from rtcc.backends.bus import open_bus
from rtcc.backends.database import Database
from rtcc.backends.objectstore_file import FileObjectStore
from rtcc.core.errors import FailedPrecondition
from rtcc.ingest.directory import StaticDirectory
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import INGEST_POOL, Lease
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.session import CameraSource, SessionSettings
from rtcc.ingest.spool import Spool
from rtcc.ingest.status_store import StatusStore
from rtcc.ingest.store import SegmentIndex
from rtcc.ingest.worker import IngestWorker, WorkerOptions

TTL = dt.timedelta(seconds=10)
SHORT = dt.timedelta(seconds=1)


def _camera() -> str:
    return f"cam_{uuid.uuid4().hex[:10]}"


async def _take_when_free(
    store: LeaseStore, cam: str, replica: str, ttl: dt.timedelta, within_s: float = 5.0
) -> Lease:
    """Poll `acquire` until the current holder's lease expires (by the database's clock)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await store.acquire(cam, INGEST_POOL, replica, ttl)
        except FailedPrecondition:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_only_one_replica_holds_a_camera_until_its_lease_expires(
    database: Database,
) -> None:
    store, cam = LeaseStore(database), _camera()
    first = await store.acquire(cam, INGEST_POOL, "a", SHORT)
    assert first.epoch == 1 and first.replica_id == "a"
    with pytest.raises(FailedPrecondition):
        await store.acquire(cam, INGEST_POOL, "b", SHORT)
    again = await store.acquire(cam, INGEST_POOL, "a", SHORT)
    assert again.epoch == 1, "re-acquiring one's own lease keeps the epoch"
    taken = await _take_when_free(store, cam, "b", SHORT)
    assert taken.replica_id == "b" and taken.epoch == 2
    assert taken.acquire_time >= again.expire_time, "not before the lease expired"


async def test_renewal_is_refused_once_the_lease_was_taken_over(database: Database) -> None:
    store, cam = LeaseStore(database), _camera()
    lease = await store.acquire(cam, INGEST_POOL, "a", SHORT)
    renewed = await store.renew(cam, INGEST_POOL, "a", 1, SHORT)
    assert renewed.expire_time - renewed.renew_time == SHORT
    assert renewed.renew_time >= lease.renew_time
    await _take_when_free(store, cam, "b", SHORT)
    with pytest.raises(FailedPrecondition):
        await store.renew(cam, INGEST_POOL, "a", lease.epoch, SHORT)
    await store.release(cam, INGEST_POOL, "a", lease.epoch)  # stale: a no-op
    held = await store.unexpired(INGEST_POOL, camera_id=cam)
    assert [lease.replica_id for lease in held] == ["b"]


async def test_one_statement_renews_every_lease_still_held_and_only_those(
    database: Database,
) -> None:
    store = LeaseStore(database)
    kept, taken, stale = _camera(), _camera(), _camera()
    first = await store.acquire(kept, INGEST_POOL, "a", TTL)
    await store.acquire(taken, INGEST_POOL, "a", SHORT)
    await store.acquire(stale, INGEST_POOL, "a", TTL)
    await _take_when_free(store, taken, "b", TTL)  # a's lease expired, b took it
    held = {kept: 1, taken: 1, stale: 2}  # stale: an epoch "a" does not hold
    renewed = await store.renew_many(INGEST_POOL, "a", held, TTL)
    assert sorted(renewed) == [kept]
    lease = renewed[kept]
    assert lease.replica_id == "a" and lease.epoch == 1
    assert lease.renew_time > first.renew_time and lease.expire_time - lease.renew_time == TTL
    assert await store.renew_many(INGEST_POOL, "b", {kept: 1}, TTL) == {}
    assert await store.renew_many(INGEST_POOL, "a", {}, TTL) == {}
    holders = {x.camera_id: x.replica_id for x in await store.unexpired(INGEST_POOL)}
    assert (holders[kept], holders[taken], holders[stale]) == ("a", "b", "a")


async def test_lease_times_are_the_databases_clock_not_the_replicas(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, cam = LeaseStore(database), _camera()
    # A replica whose clock is an hour fast must not change what the database decides.
    fast = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)

    class _FastClock(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> _FastClock:  # type: ignore[override]
            return cls.fromtimestamp(fast.timestamp(), tz)

    monkeypatch.setattr(dt, "datetime", _FastClock)
    before = await store.clock()
    lease = await store.acquire(cam, INGEST_POOL, "a", TTL)
    after = await store.clock()
    monkeypatch.undo()
    assert before <= lease.acquire_time <= after
    assert lease.renew_time == lease.acquire_time
    assert lease.expire_time - lease.renew_time == TTL
    assert abs((after - dt.datetime.now(dt.UTC)).total_seconds()) < 5, "the database's now"


async def test_racing_replicas_never_both_win_a_camera(database: Database) -> None:
    store, cam = LeaseStore(database), _camera()
    results = await asyncio.gather(
        *(store.acquire(cam, INGEST_POOL, f"r{i}", TTL) for i in range(5)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, FailedPrecondition) for r in results if r not in winners)


def _worker(
    replica: str, cameras: list[CameraSource], database: Database, tmp_path: Path, bus: Any
) -> IngestWorker:
    recorder = Recorder(
        Spool(tmp_path / replica / "spool"),
        FileObjectStore(tmp_path / "objects"),
        SegmentIndex(database),
        bus,
        settings=SessionSettings(segment_s=2.0),
    )
    return IngestWorker(
        StaticDirectory(cameras),
        LeaseStore(database),
        recorder,
        StatusStore(database),
        WorkerOptions(replica_id=replica, lease_ttl_s=10.0, tick_s=3.0),
    )


async def test_replicas_share_cameras_and_take_over_a_dead_ones_within_15_s(
    simulator: Any, database: Database, tmp_path: Path, wait_for: Any
) -> None:
    cameras = [CameraSource(_camera(), cam.main_url) for cam in simulator.cameras]
    ids = {c.camera_id for c in cameras}
    bus = await open_bus("memory://")
    prefix = uuid.uuid4().hex[:6]
    workers = [_worker(f"{prefix}-{n}", cameras, database, tmp_path, bus) for n in "abc"]
    stops = [asyncio.Event() for _ in workers]
    tasks = [asyncio.create_task(w.run(s)) for w, s in zip(workers, stops, strict=True)]

    def balanced() -> bool:
        held = [set(w.held) & ids for w in workers]
        return all(len(h) == 1 for h in held) and set().union(*held) == ids

    try:
        await wait_for(balanced, within_s=20, what="one camera per replica")
        await wait_for(
            lambda: all(len(w.recorder.sessions) == 1 for w in workers),
            within_s=10,
            what="each replica recording its camera",
        )
        # Replica c dies: it stops recording and never renews or releases.
        dead = workers[2]
        orphan = next(iter(dead.held))
        tasks[2].cancel()
        dead.shutdown = _noop  # type: ignore[method-assign]
        await asyncio.gather(tasks[2], return_exceptions=True)
        await dead.recorder.stop()
        died = asyncio.get_running_loop().time()
        await wait_for(
            lambda: any(orphan in w.held for w in workers[:2]),
            within_s=16,
            what="the dead replica's camera taken over",
        )
        took = asyncio.get_running_loop().time() - died
        assert took <= 15.0, f"the takeover took {took:.1f} s"
    finally:
        for stop in stops[:2]:
            stop.set()
        await asyncio.gather(*tasks[:2], return_exceptions=True)
        await bus.close()
    statuses = await StatusStore(database).list(camera_ids=sorted(ids))
    assert {s.camera_id for s in statuses} == ids


async def _noop() -> None:
    return None


async def test_a_camera_list_change_is_acted_on_before_the_next_tick(
    database: Database, tmp_path: Path, wait_for: Any
) -> None:
    first, second = (CameraSource(_camera(), "rtsp://127.0.0.1:9/none") for _ in range(2))
    bus = await open_bus("memory://")
    worker = _worker(f"w-{uuid.uuid4().hex[:6]}", [first], database, tmp_path, bus)
    worker.options = WorkerOptions(replica_id=worker.options.replica_id, tick_s=60.0)
    directory = worker.directory
    assert isinstance(directory, StaticDirectory)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(lambda: first.camera_id in worker.held, within_s=10, what="first tick")
        directory.sources.append(second)
        directory.changed.set()  # what RegistryDirectory does on a WatchCameras change
        await wait_for(
            lambda: second.camera_id in worker.held, within_s=5, what="the change acted on"
        )
    finally:
        stop.set()
        await task
        await bus.close()


async def test_a_replica_restarted_on_its_own_data_takes_its_cameras_back_at_once(
    database: Database, tmp_path: Path, wait_for: Any
) -> None:
    cameras = [CameraSource(_camera(), "rtsp://127.0.0.1:9/none") for _ in range(2)]
    ids = {c.camera_id for c in cameras}
    bus = await open_bus("memory://")
    replica = f"r-{uuid.uuid4().hex[:6]}"
    # A long lease: only a reclaim, never an expiry, can explain a quick return.
    options = WorkerOptions(replica_id=replica, lease_ttl_s=60.0, tick_s=0.2)
    first = _worker(replica, cameras, database, tmp_path, bus)
    first.options = options
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    try:
        await wait_for(lambda: set(first.held) == ids, within_s=10, what="both cameras held")
        epochs = {c: lease.epoch for c, lease in first.held.items()}
        # The process dies: no release, no last tick.
        first.shutdown = _noop  # type: ignore[method-assign]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await first.recorder.stop()
        died = time.monotonic()
        second = _worker(replica, cameras, database, tmp_path, bus)
        second.options = options
        task = asyncio.create_task(second.run(stop))
        await wait_for(lambda: set(second.held) == ids, within_s=5, what="cameras reclaimed")
        assert time.monotonic() - died < 5.0, "well before the 60 s lease expired"
        assert {c: lease.epoch for c, lease in second.held.items()} == epochs
        holders = await LeaseStore(database).unexpired(INGEST_POOL)
        assert {h.replica_id for h in holders if h.camera_id in ids} == {replica}
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()


async def _clock_past(store: LeaseStore, when: dt.datetime) -> bool:
    return await store.clock() > when


class _StuckDirectory(StaticDirectory):
    """The registry answering the first call, then hanging (a starved or slow registry)."""

    def __init__(self, sources: list[CameraSource]) -> None:
        super().__init__(sources)
        self.calls = 0
        self.hung = asyncio.Event()

    async def cameras(self) -> list[CameraSource]:
        self.calls += 1
        if self.calls > 1:
            self.hung.set()
            await asyncio.Event().wait()  # never answers; the tick is stuck here
        return list(self.sources)


async def test_leases_are_kept_while_a_tick_is_stuck_longer_than_the_lease(
    database: Database, tmp_path: Path, wait_for: Any
) -> None:
    cameras = [CameraSource(_camera(), "rtsp://127.0.0.1:9/none") for _ in range(2)]
    bus = await open_bus("memory://")
    replica = f"w-{uuid.uuid4().hex[:6]}"
    worker = _worker(replica, cameras, database, tmp_path, bus)
    worker.directory = _StuckDirectory(cameras)
    worker.options = WorkerOptions(replica_id=replica, lease_ttl_s=1.5, tick_s=0.3)
    store = LeaseStore(database)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await wait_for(lambda: len(worker.held) == 2, within_s=10, what="first tick")
        first = {c: lease.renew_time for c, lease in worker.held.items()}
        expiry = max(lease.expire_time for lease in worker.held.values())
        await worker.directory.hung.wait()
        # The fault: the tick stays stuck until the database's clock is a whole lease
        # past when the first leases would have expired without renewals.
        past = expiry + dt.timedelta(seconds=1.5)
        await wait_for(
            lambda: _clock_past(store, past), within_s=10, what="the tick stuck two leases long"
        )
        held = {x.camera_id: x for x in await store.unexpired(INGEST_POOL, replica_id=replica)}
        assert set(held) == {c.camera_id for c in cameras}, "no lease lost while stuck"
        assert all(held[c].renew_time > first[c] for c in first), "renewed meanwhile"
        for camera in cameras:
            with pytest.raises(FailedPrecondition):
                await store.acquire(camera.camera_id, INGEST_POOL, "other", TTL)
    finally:
        stop.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()
