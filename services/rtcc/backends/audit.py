"""The audit log every service writes: who did what to which resource, before and after.

The table is created by the base migration (`0001_base`); services append to it inside
the same transaction as the change it records, so the two commit or vanish together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.backends.database import JSONType, UTCDateTime, metadata

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
    sa.Index("ix_audit_log_time", "time"),
    sa.Index("ix_audit_log_resource", "resource_type", "resource_id", "time"),
    sa.Index("ix_audit_log_actor_org", "actor_org_id", "time"),
)


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
    request_id: str | None = None
    time: dt.datetime | None = None  # None: now


async def append_audit(conn: AsyncConnection, entry: AuditEntry) -> int:
    """Insert `entry` in the caller's transaction and return its id."""
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
            request_id=entry.request_id,
        )
        .returning(audit_log.c.id)
    )
    return int(result.scalar_one())
