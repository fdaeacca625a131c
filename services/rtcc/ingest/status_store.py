"""Stream health rows: written by the replica connected to a stream, read by anyone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rtcc.backends.database import Database
from rtcc.ingest import tables
from rtcc.ingest.health import StreamHealth

_S = tables.stream_statuses


@dataclass(frozen=True, slots=True)
class StatusRow:
    camera_id: str
    stream: int
    state: int
    replica_id: str
    fps: float
    bitrate_bps: int
    recording: bool
    last_error: str
    last_error_time: dt.datetime | None
    last_packet_time: dt.datetime | None
    state_change_time: dt.datetime
    reconnect_count: int
    update_time: dt.datetime


class StatusStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(
        self,
        replica_id: str,
        items: Sequence[tuple[str, int, StreamHealth]],
        now: dt.datetime,
    ) -> None:
        if not items:
            return
        insert: Any = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
        async with self.db.transaction() as conn:
            for camera_id, stream, health in items:
                values = {
                    "state": health.state,
                    "replica_id": replica_id,
                    "fps": health.fps,
                    "bitrate_bps": health.bitrate_bps,
                    "recording": health.recording,
                    "last_error": health.last_error,
                    "last_error_time": health.last_error_time,
                    "last_packet_time": health.last_packet_time,
                    "state_change_time": health.state_change_time,
                    "reconnect_count": health.reconnect_count,
                    "update_time": now,
                }
                statement = (
                    insert(_S)
                    .values(camera_id=camera_id, stream=stream, **values)
                    .on_conflict_do_update(index_elements=["camera_id", "stream"], set_=values)
                )
                await conn.execute(statement)

    async def list(
        self,
        *,
        camera_ids: Sequence[str] = (),
        stream: int = 0,
        replica_id: str = "",
        after: tuple[str, int] = ("", 0),
        limit: int = 1000,
    ) -> list[StatusRow]:
        query = sa.select(_S).where(
            sa.tuple_(_S.c.camera_id, _S.c.stream) > sa.tuple_(*after) if after[0] else sa.true()
        )
        if camera_ids:
            query = query.where(_S.c.camera_id.in_(list(camera_ids)))
        if stream:
            query = query.where(_S.c.stream == stream)
        if replica_id:
            query = query.where(_S.c.replica_id == replica_id)
        query = query.order_by(_S.c.camera_id, _S.c.stream).limit(limit)
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return [StatusRow(**{n: getattr(r, n) for n in StatusRow.__slots__}) for r in rows]
