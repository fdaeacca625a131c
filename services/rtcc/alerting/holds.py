"""Recording holds: keep the correlated cameras' recordings around an alert.

A hold is a row of ``recording_holds`` (camera, [start, end), holder). Ingest's
retention never deletes a segment overlapping an *active* hold (``release_time`` is
NULL) of its camera; the evidence service adopts a hold (``holder_type`` ``case``)
or releases it. Releasing needs the evidence service or an authorised person and a
reason, and is audited. The shape is documented in docs/alerting.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.alerting.records import HoldRecord
from rtcc.alerting.tables import recording_holds
from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.backends.database import Database
from rtcc.core.errors import FailedPrecondition, NotFound
from rtcc.core.ids import new_id

_H = recording_holds.c
_FIELDS = [f.name for f in dataclasses.fields(HoldRecord)]
RELEASE_ROLES = ("investigator", "partner-admin", "platform-admin")


def _hold(row: object) -> HoldRecord:
    return HoldRecord(**{name: getattr(row, name) for name in _FIELDS})


def plan_holds(
    org_id: str,
    alert_id: str,
    camera_ids: Sequence[str],
    at: dt.datetime,
    before: dt.timedelta,
    after: dt.timedelta,
    now: dt.datetime,
    reason: str,
) -> list[HoldRecord]:
    """One hold per camera over [at - before, at + after). Pure."""
    return [
        HoldRecord(
            new_id("hld"),
            org_id,
            camera_id,
            at - before,
            at + after,
            "alert",
            alert_id,
            reason,
            "service:alerting",
            now,
        )
        for camera_id in camera_ids
    ]


class HoldStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def place(self, holds: Sequence[HoldRecord], conn: AsyncConnection | None = None) -> None:
        """Store holds, skipping cameras the same holder already holds over the range."""
        if not holds:
            return
        if conn is None:
            async with self.db.transaction() as own:
                await self._place(own, holds)
        else:
            await self._place(conn, holds)

    async def _place(self, conn: AsyncConnection, holds: Sequence[HoldRecord]) -> None:
        first = holds[0]
        existing = await conn.execute(
            sa.select(_H.camera_id, _H.start_time, _H.end_time).where(
                _H.holder_type == first.holder_type,
                _H.holder_id == first.holder_id,
                _H.release_time.is_(None),
            )
        )
        covered = {(r.camera_id, r.start_time, r.end_time) for r in existing}
        rows = [
            {name: getattr(h, name) for name in _FIELDS}
            for h in holds
            if (h.camera_id, h.start_time, h.end_time) not in covered
        ]
        if rows:
            await conn.execute(recording_holds.insert(), rows)
            for row in rows:
                await append_audit(
                    conn,
                    AuditEntry(
                        row["creator"],
                        row["organization_id"],
                        "hold.place",
                        "recording_hold",
                        row["id"],
                        None,
                        _json(row),
                        None,
                        row["create_time"],
                    ),
                )

    async def find(
        self,
        org_id: str | None,
        *,
        holder: tuple[str, str] | None = None,
        camera_id: str = "",
        active_only: bool = False,
        limit: int = 1000,
    ) -> list[HoldRecord]:
        where = []
        if org_id is not None:
            where.append(_H.organization_id == org_id)
        if holder is not None:
            where += [_H.holder_type == holder[0], _H.holder_id == holder[1]]
        if camera_id:
            where.append(_H.camera_id == camera_id)
        if active_only:
            where.append(_H.release_time.is_(None))
        query = sa.select(recording_holds).where(*where).order_by(_H.create_time.desc())
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query.limit(limit))).all()
        return [_hold(r) for r in rows]

    async def release(
        self,
        hold_id: str,
        org_id: str | None,
        subject: str,
        actor_org: str,
        reason: str,
        now: dt.datetime,
    ) -> HoldRecord:
        async with self.db.transaction() as conn:
            query = sa.select(recording_holds).where(_H.id == hold_id).with_for_update()
            if org_id is not None:
                query = query.where(_H.organization_id == org_id)
            row = (await conn.execute(query)).first()
            if row is None:
                raise NotFound(f"recording hold {hold_id!r} does not exist or is not yours")
            hold = _hold(row)
            if hold.release_time is not None:
                raise FailedPrecondition(f"recording hold {hold_id} is already released")
            released = dataclasses.replace(
                hold,
                release_time=now,
                released_by=subject,
                released_by_org=actor_org,
                release_reason=reason,
            )
            await conn.execute(
                recording_holds.update()
                .where(_H.id == hold_id)
                .values(
                    release_time=now,
                    released_by=subject,
                    released_by_org=actor_org,
                    release_reason=reason,
                )
            )
            await append_audit(
                conn,
                AuditEntry(
                    subject,
                    actor_org,
                    "hold.release",
                    "recording_hold",
                    hold_id,
                    _json(dataclasses.asdict(hold)),
                    _json(dataclasses.asdict(released)),
                    None,
                    now,
                ),
            )
        return released


def _json(values: dict[str, object]) -> dict[str, object]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in values.items()}
