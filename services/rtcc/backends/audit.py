"""The audit log every service writes: who did what to which resource, before and after.

The table is created by the base migration (`0001_base`, `outcome`/`reason` by
`0007_audit`); services append to it inside the same transaction as the change it
records, so the two commit or vanish together. Denied attempts are recorded too
(``outcome="denied"`` with the reason given to the caller). The request id of the call
being served is filled in by :func:`append_audit` when the entry does not name one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.backends.database import Database, JSONType, UTCDateTime, metadata
from rtcc.core.calls import current_request_id

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("time", UTCDateTime(), nullable=False),
    sa.Column("actor_subject", sa.String(255), nullable=False),
    sa.Column("actor_org_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("resource_type", sa.String(64), nullable=False),
    sa.Column("resource_id", sa.String(128), nullable=False),
    sa.Column("before", JSONType, nullable=True),
    sa.Column("after", JSONType, nullable=True),
    sa.Column("request_id", sa.String(64), nullable=True),
    # ok (done), denied (refused to the caller) or failed (attempted, did not complete).
    sa.Column("outcome", sa.String(16), nullable=False, default="ok", server_default="ok"),
    # Why it was denied or failed: the sentence the caller got (never a secret).
    sa.Column("reason", sa.String(255), nullable=True),
    sa.Index("ix_audit_log_time", "time"),
    sa.Index("ix_audit_log_resource", "resource_type", "resource_id", "time"),
    sa.Index("ix_audit_log_actor_org", "actor_org_id", "time"),
    sa.Index("ix_audit_log_request_id", "request_id"),
)

OUTCOMES = ("ok", "denied", "failed")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action; `before`/`after` are JSON-able snapshots of the resource."""

    actor_subject: str
    actor_org_id: str
    action: str
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str | None = None  # None: the id of the call being served
    time: dt.datetime | None = None  # None: now
    outcome: str = "ok"  # one of OUTCOMES
    reason: str | None = None


async def append_audit(conn: AsyncConnection, entry: AuditEntry) -> int:
    """Insert `entry` in the caller's transaction and return its id."""
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {OUTCOMES}, not {entry.outcome!r}")
    result = await conn.execute(
        audit_log.insert()
        .values(
            time=entry.time or dt.datetime.now(dt.UTC),
            actor_subject=entry.actor_subject,
            actor_org_id=entry.actor_org_id,
            action=entry.action,
            resource_type=entry.resource_type,
            resource_id=entry.resource_id,
            before=entry.before,
            after=entry.after,
            request_id=entry.request_id or current_request_id(),
            outcome=entry.outcome,
            reason=entry.reason[:255] if entry.reason else None,
        )
        .returning(audit_log.c.id)
    )
    return int(result.scalar_one())


async def record_audit(db: Database, entry: AuditEntry) -> int:
    """Append `entry` in a transaction of its own and return its id.

    For denied or failed attempts, whose record must not roll back with the call's
    own writes: call it outside any open write transaction (SQLite has one writer)."""
    async with db.transaction() as conn:
        return await append_audit(conn, entry)
