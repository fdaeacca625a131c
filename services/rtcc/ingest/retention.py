"""Retention: delete segments whose camera's retention period has ended.

A segment's expiry is fixed when it is indexed (start + the camera's retention days).
Objects under legal hold or WORM retention (evidence) are refused by the object store
with FailedPrecondition, and segments overlapping an active row of ``recording_holds``
(alerting's holds around an alert) are skipped: such a segment is kept, counted as
held, and looked at again a day later; it is never deleted while held.

A run beats while it executes: a row in the replicas table under its own id (pool
``RUN_POOL``, no camera pool's) that lasts three beats, renewed every ``beat_s`` (3 s).
A run left RUNNING by a process that was killed stops beating; every replica's schedule
sweeps when it starts (so at the killed process's next start), then every beat's
lifetime (9 s) between passes and every beat during one, marking runs without a live
beat FAILED ("interrupted"): no run stays
RUNNING for ever, whichever replica started it and whether or not it comes back. A run
whose beat lapsed only because the database was away longer than that is marked FAILED
too, and then records its real outcome when it ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from rtcc.backends.database import Database, UTCDateTime
from rtcc.backends.objectstore import ObjectStore
from rtcc.core.errors import FailedPrecondition, NotFound, RtccError
from rtcc.core.ids import new_id
from rtcc.ingest import tables
from rtcc.ingest.lease_store import LeaseStore, db_time
from rtcc.ingest.segment import BUCKET
from rtcc.ingest.store import SegmentIndex

log = structlog.get_logger("rtcc.ingest.retention")

RUNNING, SUCCEEDED, FAILED = 1, 2, 3
_R = tables.retention_runs
RECHECK_HELD = dt.timedelta(days=1)
# The "pool" under which runs beat in the replicas table (camera pools are 1 and 2).
RUN_POOL = 90
INTERRUPTED = "interrupted: the process running it stopped before it finished"


@dataclass(frozen=True, slots=True)
class RetentionRun:
    id: str
    state: int
    start_time: dt.datetime
    end_time: dt.datetime | None
    cutoff_time: dt.datetime
    segments_deleted: int
    bytes_deleted: int
    segments_held: int
    error: str
    trigger: str


class Retention:
    """Runs retention passes (one at a time per process) and records each run."""

    def __init__(self, db: Database, objects: ObjectStore, *, beat_s: float = 3.0) -> None:
        self.db, self.objects = db, objects
        self.index = SegmentIndex(db)
        self._lock = asyncio.Lock()
        self._beats = LeaseStore(db)
        # A run's beat lasts three periods: a slow database does not fail a live run.
        self.beat_s = beat_s
        self.beat_ttl = dt.timedelta(seconds=3 * beat_s)

    @property
    def running(self) -> bool:
        return self._lock.locked()

    async def start(self, trigger: str, now: dt.datetime) -> RetentionRun:
        """Record a new run; FailedPrecondition while one is in progress here."""
        if self._lock.locked():
            raise FailedPrecondition("a retention run is already in progress")
        run = RetentionRun(new_id("ret"), RUNNING, now, None, now, 0, 0, 0, "", trigger)
        await self._beat(run.id)  # before the row: a sweep never sees it without a beat
        async with self.db.transaction() as conn:
            await conn.execute(_R.insert().values(**_values(run)))
        return run

    async def _beat(self, run_id: str) -> None:
        await self._beats.heartbeat(run_id, RUN_POOL, self.beat_ttl)

    async def _beating(self, run_id: str) -> None:
        """While a run executes: beat, and sweep (a long run does not hold up the
        cleaning of one a killed process left)."""
        while True:
            await asyncio.sleep(self.beat_s)
            try:
                await self._beat(run_id)
                await self.sweep()
            except RtccError as exc:  # the database away: the run goes on; beat again
                log.warning("retention_beat_failed", run_id=run_id, error=str(exc))

    async def sweep(self) -> int:
        """Mark FAILED every RUNNING run that no live process beats for (its process was
        killed); returns how many."""
        beats = tables.replicas
        live = sa.select(beats.c.replica_id).where(
            beats.c.pool == RUN_POOL, beats.c.expire_time > db_time(self.db.dialect)
        )
        now = dt.datetime.now(dt.UTC)
        update = (
            _R.update()
            .where(_R.c.state == RUNNING, _R.c.id.not_in(live))
            .values(state=FAILED, end_time=now, error=INTERRUPTED)
        )
        async with self.db.transaction() as conn:
            count = int((await conn.execute(update)).rowcount or 0)
        if count:
            log.warning("retention_runs_interrupted", count=count)
        return count

    async def execute(self, run: RetentionRun) -> RetentionRun:
        """Delete every segment expired at the run's cutoff; record the outcome."""
        deleted = freed = held = 0
        error = ""
        beating = asyncio.create_task(self._beating(run.id), name=f"retention-beat-{run.id}")
        async with self._lock:
            try:
                while batch := await self.index.expired(run.cutoff_time):
                    for seg in batch:
                        if await _on_hold(self.db, seg.camera_id, seg.start_time, seg.end_time):
                            held += 1
                            await self.index.keep(seg.id, run.cutoff_time + RECHECK_HELD)
                            continue
                        try:
                            await self.objects.delete(BUCKET, seg.object_key)
                        except FailedPrecondition:
                            held += 1
                            await self.index.keep(seg.id, run.cutoff_time + RECHECK_HELD)
                            continue
                        await self.index.remove(seg.id)
                        deleted, freed = deleted + 1, freed + seg.size_bytes
            except RtccError as exc:
                error = str(exc)
                log.warning("retention_run_failed", run_id=run.id, error=error)
            except asyncio.CancelledError:
                await self._finish(run, deleted, freed, held, "interrupted: the server stopped")
                raise
            except Exception as exc:  # e.g. OSError from a disk: the run must not stay RUNNING
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("retention_run_crashed", run_id=run.id)
            finally:
                beating.cancel()
        done = await self._finish(run, deleted, freed, held, error)
        try:
            await self._beats.leave(run.id, RUN_POOL)
        except RtccError:
            pass  # the beat expires by itself
        return done

    async def _finish(
        self, run: RetentionRun, deleted: int, freed: int, held: int, error: str
    ) -> RetentionRun:
        done = RetentionRun(
            run.id, FAILED if error else SUCCEEDED, run.start_time, dt.datetime.now(dt.UTC),
            run.cutoff_time, deleted, freed, held, error, run.trigger,
        )  # fmt: skip
        async with self.db.transaction() as conn:
            await conn.execute(_R.update().where(_R.c.id == run.id).values(**_values(done)))
        return done

    async def get(self, run_id: str) -> RetentionRun:
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(sa.select(_R).where(_R.c.id == run_id))).first()
        if row is None:
            raise NotFound(f"retention run {run_id} does not exist")
        return _run(row)

    async def list(self, limit: int, before: tuple[dt.datetime, str] | None) -> list[RetentionRun]:
        query = sa.select(_R).order_by(_R.c.start_time.desc(), _R.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(sa.tuple_(_R.c.start_time, _R.c.id) < sa.tuple_(*before))
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return [_run(r) for r in rows]


async def retention_loop(retention: Retention, stop: asyncio.Event, every_s: float) -> None:
    """A scheduled pass every `every_s` seconds until `stop`; between passes (and first,
    at the process's start), every beat's lifetime, runs that killed processes left
    RUNNING are marked FAILED."""
    loop = asyncio.get_running_loop()
    next_pass = loop.time()
    while not stop.is_set():
        try:
            await retention.sweep()
            if loop.time() >= next_pass:
                next_pass = loop.time() + every_s
                run = await retention.start("schedule", dt.datetime.now(dt.UTC))
                await retention.execute(run)
        except RtccError as exc:
            log.warning("retention_schedule_failed", error=str(exc))
        wait = min(retention.beat_ttl.total_seconds(), max(0.0, next_pass - loop.time()))
        try:
            await asyncio.wait_for(stop.wait(), wait)
        except TimeoutError:
            pass


# Recording holds (placed by alerting, adopted or released by evidence; the row shape
# is in docs/alerting.md): a segment overlapping an active hold of its camera is kept.
_HOLDS = sa.table(
    "recording_holds",
    sa.column("camera_id", sa.String()),
    sa.column("start_time", UTCDateTime()),
    sa.column("end_time", UTCDateTime()),
    sa.column("release_time", UTCDateTime()),
)


async def _on_hold(db: Database, camera_id: str, start: dt.datetime, end: dt.datetime) -> bool:
    h = _HOLDS.c
    query = (
        sa.select(sa.literal(1))
        .where(h.camera_id == camera_id, h.release_time.is_(None))
        .where(h.start_time < end, h.end_time > start)
        .limit(1)
    )
    async with db.transaction(readonly=True) as conn:
        return (await conn.execute(query)).first() is not None


def _values(run: RetentionRun) -> dict[str, object]:
    return {name: getattr(run, name) for name in RetentionRun.__slots__}


def _run(row: object) -> RetentionRun:
    return RetentionRun(**{name: getattr(row, name) for name in RetentionRun.__slots__})
