"""Camera leases and replica heartbeats in the shared database.

Every change is one conditional UPDATE (or an INSERT that loses to a concurrent one),
so two replicas racing for a camera cannot both win, on SQLite or PostgreSQL.

Time is the database's: every expiry is computed and compared in SQL from the
database server's clock (PostgreSQL ``now()``, SQLite ``'now'``), never from a
replica's, so replicas whose clocks disagree still agree on who holds a camera, and a
renewal counts from the moment the database applies it (not from when the replica
started its tick, which may have waited on the registry).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rtcc.backends.database import Database, UTCDateTime
from rtcc.core.errors import AlreadyExists, FailedPrecondition
from rtcc.ingest import tables
from rtcc.ingest.leases import Lease

_L = tables.leases


def _lease(row: Any) -> Lease:
    return Lease(**{name: getattr(row, name) for name in Lease.__slots__})


def db_time(dialect: str, offset: dt.timedelta = dt.timedelta(0)) -> Any:
    """The database's current time plus `offset`, as an SQL expression of the column type.

    SQLite keeps UTC text ('YYYY-MM-DD HH:MM:SS.ffffff', what UTCDateTime writes, which
    sorts as time does); its 'now' has millisecond resolution, padded to microseconds.
    """
    if dialect == "postgresql":
        value: Any = sa.func.now()
        if offset:
            value = value + sa.bindparam(None, offset, type_=sa.Interval())
        return sa.type_coerce(value, UTCDateTime())
    modifier = f"{offset.total_seconds():+.6f} seconds"
    text = sa.func.strftime("%Y-%m-%d %H:%M:%f", "now", modifier) + sa.literal("000")
    return sa.type_coerce(text, UTCDateTime())


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self) -> Any:
        return postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert

    def _now(self, offset: dt.timedelta = dt.timedelta(0)) -> Any:
        return db_time(self.db.dialect, offset)

    async def clock(self) -> dt.datetime:
        """The database's current time (what every expiry is measured against)."""
        async with self.db.transaction(readonly=True) as conn:
            value: dt.datetime = (await conn.execute(sa.select(self._now()))).scalar_one()
        return value

    async def acquire(
        self, camera_id: str, pool: int, replica_id: str, ttl: dt.timedelta, address: str = ""
    ) -> Lease:
        """Take (or keep) the lease; FailedPrecondition while another replica holds it.

        The holder itself may always take it again, expired or not: a replica that
        restarts on the same data (same replica id) reclaims its cameras at once.
        `address` is where the holder serves the camera's live streams (routing.py)."""
        now, later = self._now(), self._now(ttl)
        mine = _L.c.replica_id == replica_id
        update = (
            sa.update(_L)
            .where(_L.c.camera_id == camera_id, _L.c.pool == pool)
            .where(sa.or_(_L.c.expire_time <= now, mine))
            .values(
                epoch=sa.case((mine, _L.c.epoch), else_=_L.c.epoch + 1),
                acquire_time=sa.case((mine, _L.c.acquire_time), else_=now),
                replica_id=replica_id,
                renew_time=now,
                expire_time=later,
                address=address,
            )
        )
        try:
            async with self.db.transaction() as conn:
                if (await conn.execute(update)).rowcount == 0:
                    insert = self._insert()(_L).values(
                        camera_id=camera_id,
                        pool=pool,
                        replica_id=replica_id,
                        epoch=1,
                        acquire_time=now,
                        renew_time=now,
                        expire_time=later,
                        address=address,
                    )
                    await conn.execute(insert)
                row = (await conn.execute(_select(camera_id, pool))).one()
        except AlreadyExists:
            raise self._held(camera_id) from None
        return _lease(row)

    def _held(self, camera_id: str) -> FailedPrecondition:
        return FailedPrecondition(f"camera {camera_id} is leased to another replica")

    async def renew(
        self,
        camera_id: str,
        pool: int,
        replica_id: str,
        epoch: int,
        ttl: dt.timedelta,
    ) -> Lease:
        """Extend a held, unexpired lease; FailedPrecondition if it was lost."""
        now = self._now()
        update = (
            sa.update(_L)
            .where(_L.c.camera_id == camera_id, _L.c.pool == pool)
            .where(_L.c.replica_id == replica_id, _L.c.epoch == epoch, _L.c.expire_time > now)
            .values(renew_time=now, expire_time=self._now(ttl))
        )
        async with self.db.transaction() as conn:
            if (await conn.execute(update)).rowcount == 0:
                raise FailedPrecondition(
                    f"the lease on camera {camera_id} expired or was taken over; stop using it"
                )
            row = (await conn.execute(_select(camera_id, pool))).one()
        return _lease(row)

    async def renew_many(
        self, pool: int, replica_id: str, held: dict[str, int], ttl: dt.timedelta
    ) -> dict[str, Lease]:
        """Extend every held, unexpired lease of ``held`` (camera id -> epoch) in one
        statement; returns the renewed ones (a camera missing was lost: expired or taken).

        One round trip for all of a replica's cameras, however many: renewing them one
        by one took a round trip each, and on a loaded node a tick's renewals could then
        outlast the leases themselves.
        """
        if not held:
            return {}
        now = self._now()
        pairs = sorted(held.items())
        mine = (
            _L.c.pool == pool,
            _L.c.replica_id == replica_id,
            sa.tuple_(_L.c.camera_id, _L.c.epoch).in_(pairs),
        )
        update = (
            sa.update(_L)
            .where(*mine, _L.c.expire_time > now)
            .values(renew_time=now, expire_time=self._now(ttl))
            .returning(*_L.c)
        )
        async with self.db.transaction() as conn:
            rows = (await conn.execute(update)).all()
        return {row.camera_id: _lease(row) for row in rows}

    async def release(self, camera_id: str, pool: int, replica_id: str, epoch: int) -> None:
        """Give a lease up; a stale epoch is a no-op."""
        delete = sa.delete(_L).where(
            _L.c.camera_id == camera_id,
            _L.c.pool == pool,
            _L.c.replica_id == replica_id,
            _L.c.epoch == epoch,
        )
        async with self.db.transaction() as conn:
            await conn.execute(delete)

    async def unexpired(
        self,
        pool: int,
        *,
        replica_id: str = "",
        camera_id: str = "",
        after: str = "",
        limit: int = 10_000,
    ) -> list[Lease]:
        query = sa.select(_L).where(_L.c.expire_time > self._now(), _L.c.camera_id > after)
        if pool:
            query = query.where(_L.c.pool == pool)
        if replica_id:
            query = query.where(_L.c.replica_id == replica_id)
        if camera_id:
            query = query.where(_L.c.camera_id == camera_id)
        query = query.order_by(_L.c.camera_id, _L.c.pool).limit(limit)
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return [_lease(r) for r in rows]

    async def heartbeat(self, replica_id: str, pool: int, ttl: dt.timedelta) -> list[str]:
        """Mark this replica alive; returns every live replica of the pool."""
        r = tables.replicas
        upsert = (
            self._insert()(r)
            .values(replica_id=replica_id, pool=pool, expire_time=self._now(ttl))
            .on_conflict_do_update(
                index_elements=["replica_id", "pool"], set_={"expire_time": self._now(ttl)}
            )
        )
        async with self.db.transaction() as conn:
            await conn.execute(upsert)
            await conn.execute(sa.delete(r).where(r.c.expire_time < self._now(-10 * ttl)))
            return sorted(row.replica_id for row in await conn.execute(self._live(pool)))

    async def live(self, pool: int) -> list[str]:
        """Every live replica of the pool, as of now (the database's clock)."""
        async with self.db.transaction(readonly=True) as conn:
            return sorted(row.replica_id for row in await conn.execute(self._live(pool)))

    def _live(self, pool: int) -> Any:
        r = tables.replicas
        return sa.select(r.c.replica_id).where(r.c.pool == pool, r.c.expire_time > self._now())

    async def leave(self, replica_id: str, pool: int) -> None:
        r = tables.replicas
        async with self.db.transaction() as conn:
            await conn.execute(sa.delete(r).where(r.c.replica_id == replica_id, r.c.pool == pool))


def _select(camera_id: str, pool: int) -> Any:
    return sa.select(_L).where(_L.c.camera_id == camera_id, _L.c.pool == pool)
