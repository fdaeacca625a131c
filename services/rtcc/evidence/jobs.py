"""Export jobs in the database: queued by ExportClip, claimed by a worker under a
lease, their progress written as they go, so a restart (or another replica) takes up
a job whose lease ran out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.backends.database import Database
from rtcc.core.errors import NotFound
from rtcc.evidence import tables

_J = tables.export_jobs
QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = 1, 2, 3, 4, 5
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
LEASE = dt.timedelta(seconds=30)
MAX_ATTEMPTS = 3


class JobStore:
    def __init__(self, db: Database, lease: dt.timedelta = LEASE) -> None:
        self.db, self.lease = db, lease

    async def insert(
        self,
        conn: AsyncConnection,
        job_id: str,
        case_id: str,
        item_id: str,
        clip: dict[str, Any],
        creator: tuple[str, str],
        now: dt.datetime,
    ) -> str:
        await conn.execute(
            _J.insert().values(
                id=job_id,
                case_id=case_id,
                item_id=item_id,
                camera_id=clip["camera_id"],
                stream=clip["stream"],
                range_start=clip["start"],
                range_end=clip["end"],
                state=QUEUED,
                progress=0.0,
                bytes_written=0,
                gaps=[],
                error="",
                attempts=0,
                creator_subject=creator[0],
                creator_org_id=creator[1],
                create_time=now,
                start_time=None,
                end_time=None,
                lease_expire_time=None,
            )
        )
        return job_id

    async def get(self, job_id: str) -> Row[Any]:
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(sa.select(_J).where(_J.c.id == job_id))).first()
        if row is None:
            raise NotFound(
                f"export job {job_id} does not exist or you are not a member of its case"
            )
        return row

    async def for_case(
        self,
        case_id: str,
        states: Sequence[int],
        limit: int,
        before: tuple[dt.datetime, str] | None,
    ) -> list[Row[Any]]:
        query = (
            sa.select(_J)
            .where(_J.c.case_id == case_id)
            .order_by(_J.c.create_time.desc(), _J.c.id.desc())
            .limit(limit)
        )
        if states:
            query = query.where(_J.c.state.in_(list(states)))
        if before is not None:
            query = query.where(sa.tuple_(_J.c.create_time, _J.c.id) < sa.tuple_(*before))
        async with self.db.transaction(readonly=True) as conn:
            return list((await conn.execute(query)).all())

    async def claim(self, now: dt.datetime) -> Row[Any] | None:
        """Take the oldest queued job, or a running one whose worker's lease ran out."""
        claimable = sa.or_(
            _J.c.state == QUEUED,
            sa.and_(_J.c.state == RUNNING, _J.c.lease_expire_time < now),
        )
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.select(_J)
                    .where(claimable)
                    .order_by(_J.c.create_time)
                    .limit(1)
                    .with_for_update()
                )
            ).first()
            if row is None:
                return None
            await conn.execute(
                _J.update()
                .where(_J.c.id == row.id)
                .values(
                    state=RUNNING,
                    attempts=row.attempts + 1,
                    lease_expire_time=now + self.lease,
                    start_time=row.start_time or now,
                    progress=0.0,
                    bytes_written=0,
                )
            )
        return await self.get(row.id)

    async def progress(self, job_id: str, progress: float, written: int, now: dt.datetime) -> int:
        """Record progress and renew the lease; returns the job's state (cancelled?)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                _J.update()
                .where(_J.c.id == job_id, _J.c.state == RUNNING)
                .values(
                    progress=progress, bytes_written=written, lease_expire_time=now + self.lease
                )
            )
            row = (await conn.execute(sa.select(_J.c.state).where(_J.c.id == job_id))).first()
        return int(row.state) if row is not None else CANCELLED

    async def finish(
        self,
        job_id: str,
        state: int,
        now: dt.datetime,
        *,
        error: str = "",
        gaps: list[dict[str, str]] | None = None,
        written: int = 0,
        conn: AsyncConnection | None = None,
    ) -> bool:
        """Move a running or queued job to a final state; False if it already was final."""
        values: dict[str, Any] = {
            "state": state, "end_time": now, "error": error[:1000], "lease_expire_time": None,
        }  # fmt: skip
        if state == SUCCEEDED:
            values.update(progress=1.0, bytes_written=written)
        if gaps is not None:
            values["gaps"] = gaps
        statement = (
            _J.update().where(_J.c.id == job_id, _J.c.state.not_in(FINISHED)).values(**values)
        )
        if conn is not None:
            return (await conn.execute(statement)).rowcount > 0
        async with self.db.transaction() as own:
            return (await own.execute(statement)).rowcount > 0
