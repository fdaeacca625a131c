"""Recording holds placed by alerting, adopted by a case and released with it.

Alerting keeps the correlated cameras' recordings around an alert with rows of the
shared ``recording_holds`` table (docs/alerting.md; ingest's retention keeps every
segment an active hold overlaps). When a case links an alert, the case adopts its
active holds: each is copied with ``holder_type = 'case'`` and the alert's own hold
is released as "adopted by case …", so the alert's lifecycle no longer decides.
Lifting the case's legal hold (by a second person) or deleting the case releases the
case's holds. Both leave a custody entry. The table is alerting's; this module names
only the columns its documented shape promises.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.backends.database import UTCDateTime
from rtcc.core.ids import new_id
from rtcc.evidence import custody_store

EVIDENCE = "service:evidence"
HOLDS = sa.table(
    "recording_holds",
    sa.column("id"), sa.column("organization_id"), sa.column("camera_id"),
    sa.column("start_time", UTCDateTime()), sa.column("end_time", UTCDateTime()),
    sa.column("holder_type"), sa.column("holder_id"), sa.column("reason"),
    sa.column("creator"), sa.column("create_time", UTCDateTime()),
    sa.column("release_time", UTCDateTime()), sa.column("released_by"),
    sa.column("released_by_org"), sa.column("release_reason"),
)  # fmt: skip
_H = HOLDS.c
HOLD_SET, HOLD_RELEASED = 4, 5


async def adopt(
    conn: AsyncConnection,
    case_id: str,
    org_id: str,
    alert_ids: Sequence[str],
    actor: custody_store.Actor,
    now: dt.datetime,
) -> list[str]:
    """Move the alerts' active holds to the case; returns the new holds' ids."""
    if not alert_ids:
        return []
    rows = (
        await conn.execute(
            sa.select(HOLDS).where(
                _H.holder_type == "alert",
                _H.holder_id.in_(list(alert_ids)),
                _H.organization_id == org_id,
                _H.release_time.is_(None),
            )
        )
    ).all()
    adopted = []
    for row in rows:
        hold_id = new_id("hld")
        await conn.execute(
            HOLDS.insert().values(
                id=hold_id,
                organization_id=row.organization_id,
                camera_id=row.camera_id,
                start_time=row.start_time,
                end_time=row.end_time,
                holder_type="case",
                holder_id=case_id,
                reason=f"adopted from alert {row.holder_id} ({row.reason})",
                creator=EVIDENCE,
                create_time=now,
                release_time=None,
                released_by="",
                released_by_org="",
                release_reason="",
            )
        )
        await conn.execute(
            HOLDS.update()
            .where(_H.id == row.id)
            .values(
                release_time=now,
                released_by=EVIDENCE,
                released_by_org=org_id,
                release_reason=f"adopted by case {case_id}",
            )
        )
        adopted.append(hold_id)
    if adopted:
        await custody_store.append(
            conn, case_id, HOLD_SET, actor, now,
            detail=f"adopted recording holds {', '.join(adopted)} of alerts {', '.join(alert_ids)}",
        )  # fmt: skip
    return adopted


async def release(
    conn: AsyncConnection, case_id: str, actor: custody_store.Actor, reason: str, now: dt.datetime
) -> list[str]:
    """Release the case's active recording holds; returns their ids."""
    rows = (
        await conn.execute(
            sa.select(_H.id).where(
                _H.holder_type == "case", _H.holder_id == case_id, _H.release_time.is_(None)
            )
        )
    ).all()
    ids = [r.id for r in rows]
    if ids:
        await conn.execute(
            HOLDS.update()
            .where(_H.id.in_(ids))
            .values(
                release_time=now,
                released_by=actor.subject,
                released_by_org=actor.org_id,
                release_reason=reason[:4000],
            )
        )
        await custody_store.append(
            conn, case_id, HOLD_RELEASED, actor, now,
            detail=f"released recording holds {', '.join(ids)}: {reason}",
        )  # fmt: skip
    return ids


async def active(conn: AsyncConnection, case_id: str) -> list[str]:
    rows = (
        await conn.execute(
            sa.select(_H.id).where(
                _H.holder_type == "case", _H.holder_id == case_id, _H.release_time.is_(None)
            )
        )
    ).all()
    return [r.id for r in rows]
