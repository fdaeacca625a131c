"""The segment index in the shared database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rtcc.backends.database import Database
from rtcc.ingest import tables
from rtcc.ingest.segment import CONTENT_TYPE, ClosedSegment


@dataclass(frozen=True, slots=True)
class StoredSegment:
    """A row of the segment index."""

    id: str
    camera_id: str
    stream: int
    start_time: dt.datetime
    end_time: dt.datetime
    object_key: str
    content_type: str
    size_bytes: int
    sha256: str
    video_codec: str
    width: int
    height: int
    frame_rate: float
    discontinuity: bool
    create_time: dt.datetime
    expire_time: dt.datetime | None


def _row(row: Any) -> StoredSegment:
    return StoredSegment(**{name: getattr(row, name) for name in StoredSegment.__slots__})


def _values(
    seg: ClosedSegment, now: dt.datetime, expire_time: dt.datetime | None
) -> dict[str, Any]:
    return {
        "id": seg.id,
        "camera_id": seg.camera_id,
        "stream": seg.stream,
        "start_time": seg.start_time,
        "end_time": seg.end_time,
        "object_key": seg.object_key,
        "content_type": CONTENT_TYPE,
        "size_bytes": seg.size_bytes,
        "sha256": seg.sha256,
        "video_codec": seg.video_codec,
        "width": seg.width,
        "height": seg.height,
        "frame_rate": seg.frame_rate,
        "discontinuity": seg.discontinuity,
        "create_time": now,
        "expire_time": expire_time,
    }


class SegmentIndex:
    """Index rows: written idempotently, read by camera stream and time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, seg: ClosedSegment, *, now: dt.datetime, expire_time: dt.datetime | None
    ) -> bool:
        """Index a stored segment; False when it was already indexed (a retried upload)."""
        return (await self.add_many([(seg, expire_time)], now=now))[0]

    async def add_many(
        self,
        segments: Sequence[tuple[ClosedSegment, dt.datetime | None]],
        *,
        now: dt.datetime,
    ) -> list[bool]:
        """Index stored segments (with their expiry) in one transaction, in order.

        All or nothing; per segment, False when it was already indexed.
        """
        if not segments:
            return []
        rows = [_values(seg, now, expire) for seg, expire in segments]
        insert: Any = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        # One statement for the whole batch (a multi-row VALUES); the ids it returns
        # are the rows it added, the others were indexed already.
        statement = (
            insert(tables.segments)
            .on_conflict_do_nothing(index_elements=["camera_id", "stream", "start_time"])
            .returning(tables.segments.c.id)
        )
        async with self.db.transaction() as conn:
            result = await conn.execute(statement, rows)
            added = {row.id for row in result}
        return [seg.id in added for seg, _expire in segments]

    async def get(self, segment_id: str) -> StoredSegment | None:
        query = sa.select(tables.segments).where(tables.segments.c.id == segment_id)
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        return _row(row) if row is not None else None

    async def overlapping(
        self,
        camera_id: str,
        stream: int,
        start: dt.datetime,
        end: dt.datetime,
        *,
        limit: int = 1000,
        after: dt.datetime | None = None,
    ) -> list[StoredSegment]:
        """Segments overlapping [start, end), by start time; `after` continues a page."""
        t = tables.segments
        query = (
            sa.select(t)
            .where(t.c.camera_id == camera_id, t.c.stream == stream)
            .where(t.c.end_time > start, t.c.start_time < end)
            .order_by(t.c.start_time)
            .limit(limit)
        )
        if after is not None:
            query = query.where(t.c.start_time > after)
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return [_row(r) for r in rows]

    async def at_or_after(
        self, camera_id: str, stream: int, when: dt.datetime
    ) -> StoredSegment | None:
        """The segment holding `when`, else the first one starting after it."""
        t = tables.segments
        query = (
            sa.select(t)
            .where(t.c.camera_id == camera_id, t.c.stream == stream, t.c.end_time > when)
            .order_by(t.c.start_time)
            .limit(1)
        )
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        return _row(row) if row is not None else None

    async def expired(self, now: dt.datetime, limit: int = 500) -> list[StoredSegment]:
        t = tables.segments
        query = (
            sa.select(t)
            .where(t.c.expire_time.is_not(None), t.c.expire_time <= now)
            .order_by(t.c.expire_time)
            .limit(limit)
        )
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return [_row(r) for r in rows]

    async def remove(self, segment_id: str) -> None:
        query = sa.delete(tables.segments).where(tables.segments.c.id == segment_id)
        async with self.db.transaction() as conn:
            await conn.execute(query)

    async def keep(self, segment_id: str, until: dt.datetime) -> None:
        """Push a held segment's expiry out, so retention looks at it again later."""
        query = (
            sa.update(tables.segments)
            .where(tables.segments.c.id == segment_id)
            .values(expire_time=until)
        )
        async with self.db.transaction() as conn:
            await conn.execute(query)
