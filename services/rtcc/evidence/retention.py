"""Evidence retention: destroy the content of items whose retention category ended.

An item under legal hold (its own or its case's) is never destroyed; nor is one whose
object the store still refuses to delete (an object-lock retention or hold: the store
is the last word). Each destruction leaves a custody entry naming the category. The
loop runs every ``evidence.retention_every_s``; RunEvidenceRetention runs it now.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
import structlog

from rtcc.core.errors import RtccError
from rtcc.evidence import custody_store, store, tables
from rtcc.evidence.content import Content

log = structlog.get_logger("rtcc.evidence.retention")
_I, _C = tables.items, tables.cases
RETENTION_ACTOR = custody_store.Actor("service:evidence-retention", "org_platform")


@dataclass(frozen=True, slots=True)
class RetentionOutcome:
    deleted: int
    held: int


async def run_retention(
    cases: store.CaseStore, content: Content, now: dt.datetime
) -> RetentionOutcome:
    query = (
        sa.select(_I, _C.c.hold_active.label("case_held"))
        .join(_C, _C.c.id == _I.c.case_id)
        .where(_I.c.retain_until < now, _I.c.object_key != "")
        .order_by(_I.c.retain_until)
        .limit(1000)
    )
    async with cases.db.transaction(readonly=True) as conn:
        rows = (await conn.execute(query)).all()
    deleted = held = 0
    for row in rows:
        if row.hold_active or row.case_held or not await content.remove(row.object_key):
            held += 1
            continue
        async with cases.db.transaction() as conn:
            await conn.execute(
                _I.update()
                .where(_I.c.id == row.id)
                .values(
                    state=store.DELETED,
                    object_key="",
                    delete_time=row.delete_time or now,
                    update_time=now,
                    etag=store.etag(),
                )
            )
            await custody_store.append(
                conn, row.case_id, store.ITEM_DELETED, RETENTION_ACTOR, now, item_id=row.id,
                item_sha256=row.sha256,
                detail=f"content destroyed: retention category {row.retention_category} "
                f"ended {row.retain_until.isoformat()}",
            )  # fmt: skip
        deleted += 1
    return RetentionOutcome(deleted, held)


async def retention_loop(
    cases: store.CaseStore, content: Content, stop: asyncio.Event, every_s: float
) -> None:
    while not stop.is_set():
        try:
            outcome = await run_retention(cases, content, dt.datetime.now(dt.UTC))
            if outcome.deleted or outcome.held:
                log.info("evidence_retention", deleted=outcome.deleted, held=outcome.held)
        except RtccError as exc:
            log.warning("evidence_retention_failed", error=str(exc))
        except Exception:  # keep the schedule alive; the next pass retries
            log.exception("evidence_retention_crashed")
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass
