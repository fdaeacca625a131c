"""The registry's write path and change feed: revisions, change rows, audit entries.

Every registry write runs in :meth:`ChangeFeed.write`, whose ``Transaction`` hands out
revisions from the single ``registry_state`` row. Taking that row first serialises
registry writers, so revisions commit in increasing order and a reader that has seen
revision N never later finds a smaller one (the property WatchCameras's resume relies
on). The audit entry and change row commit with the change they describe, or not at all.

Watchers wait on a :class:`RevisionSignal`, advanced by this process's own commits, by
the ``rtcc.camera.changed`` bus notification from other replicas, and by a slow poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.backends.audit import audit_log
from rtcc.backends.database import Database
from rtcc.core.auth import Principal
from rtcc.core.calls import current_request_id
from rtcc.core.errors import FailedPrecondition, InvalidArgument
from rtcc.registry.tables import audit_orgs, changes, state

Notify = Callable[[int], Awaitable[None]]
log = structlog.get_logger("rtcc.registry.changes")


@dataclass(frozen=True)
class Change:
    """One row of the feed."""

    revision: int
    change_type: int
    camera_id: str | None
    organization_id: str
    grantee_org_id: str | None
    payload: bytes | None
    change_time: datetime


class RevisionSignal:
    """Wakes waiters when the feed may have advanced past a revision."""

    def __init__(self) -> None:
        self._latest = 0
        self._event = asyncio.Event()

    @property
    def latest(self) -> int:
        return self._latest

    def advance(self, revision: int) -> None:
        if revision > self._latest:
            self._latest = revision
            event, self._event = self._event, asyncio.Event()
            event.set()

    async def wait_beyond(self, revision: int, max_wait: float) -> None:
        """Return once a revision above ``revision`` is known, or after ``max_wait`` s."""
        if self._latest > revision:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max_wait)


@dataclass
class Transaction:
    """One registry write: a connection plus revision, change and audit helpers."""

    conn: AsyncConnection
    actor: Principal
    now: datetime
    request_id: str | None = None
    last_revision: int = 0
    _changes: list[dict[str, Any]] = field(default_factory=list)
    _audits: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)

    async def reserve(self, count: int = 1) -> range:
        """Allocate ``count`` consecutive revisions (the first call locks the counter)."""
        await self.conn.execute(
            sa.update(state).where(state.c.id == 1).values(revision=state.c.revision + count)
        )
        top = int((await self.conn.execute(sa.select(state.c.revision))).scalar_one())
        self.last_revision = top
        return range(top - count + 1, top + 1)

    async def revision(self) -> int:
        return (await self.reserve(1))[0]

    def change(
        self,
        revision: int,
        change_type: int,
        organization_id: str,
        *,
        camera_id: str | None = None,
        grantee_org_id: str | None = None,
        payload: bytes | None = None,
    ) -> None:
        """Queue a change row; all are inserted at :meth:`flush` (one statement)."""
        self._changes.append(
            {
                "revision": revision,
                "change_type": change_type,
                "camera_id": camera_id,
                "organization_id": organization_id,
                "grantee_org_id": grantee_org_id,
                "payload": payload,
                "change_time": self.now,
            }
        )

    def audit(
        self,
        action: str,
        resource_type: str,
        resource_id: str,
        organizations: Iterable[str],
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Queue an audit entry, readable by ``organizations``; written at :meth:`flush`."""
        entry = {
            "time": self.now,
            "actor_subject": self.actor.subject,
            "actor_org_id": self.actor.org_id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "before": before,
            "after": after,
            "request_id": self.request_id,
        }
        self._audits.append((entry, sorted(set(organizations))))

    async def flush(self) -> None:
        """Write the queued change rows and audit entries (one statement each)."""
        if self._changes:
            await self.conn.execute(sa.insert(changes), self._changes)
            self._changes.clear()
        if self._audits:
            insert = audit_log.insert().returning(audit_log.c.id, sort_by_parameter_order=True)
            result = await self.conn.execute(insert, [entry for entry, _ in self._audits])
            ids = [row.id for row in result]
            readers = [
                {"organization_id": org, "audit_id": audit_id}
                for audit_id, (_, orgs) in zip(ids, self._audits, strict=True)
                for org in orgs
            ]
            await self.conn.execute(sa.insert(audit_orgs), readers)
            self._audits.clear()


class ChangeFeed:
    """Writes go in through :meth:`write`; watchers read with :meth:`read` and wait."""

    def __init__(self, db: Database, notify: Notify | None = None) -> None:
        self.db = db
        self.signal = RevisionSignal()
        self._notify = notify

    @contextlib.asynccontextmanager
    async def write(
        self, actor: Principal, now: datetime | None = None
    ) -> AsyncIterator[Transaction]:
        request_id = current_request_id()
        async with self.db.transaction() as conn:
            # Lock the counter first: writers queue here, so what a write reads before
            # writing cannot change under it (no lost updates) and revisions commit in order.
            await conn.execute(sa.select(state.c.revision).where(state.c.id == 1).with_for_update())
            tx = Transaction(conn, actor, now or datetime.now(UTC), request_id)
            yield tx
            await tx.flush()
        if tx.last_revision:
            self.signal.advance(tx.last_revision)
            if self._notify is not None:
                try:
                    await self._notify(tx.last_revision)
                except Exception:  # the poll catches up; a write must not fail for this
                    log.warning("change_notify_failed", revision=tx.last_revision, exc_info=True)

    async def current(self) -> tuple[int, int]:
        """The latest committed revision and the compacted one."""
        async with self.db.transaction(readonly=True) as conn:
            row = (
                await conn.execute(sa.select(state.c.revision, state.c.compacted_revision))
            ).one()
        self.signal.advance(int(row.revision))
        return int(row.revision), int(row.compacted_revision)

    async def start_point(self, start_revision: int) -> int:
        """Validate a watch's resume point; 0 means "from now"."""
        current, compacted = await self.current()
        if start_revision < 0:
            raise InvalidArgument("start_revision must not be negative", field="start_revision")
        if start_revision == 0:
            return current
        if start_revision > current:
            raise InvalidArgument(
                f"start_revision {start_revision} is ahead of the registry ({current}); "
                "list again and watch from the listing's revision",
                field="start_revision",
            )
        if start_revision < compacted:
            raise FailedPrecondition(
                f"changes up to revision {compacted} have been pruned; list the cameras "
                "again and watch from the listing's revision"
            )
        return start_revision

    async def read(self, after: int, limit: int = 500) -> list[Change]:
        async with self.db.transaction(readonly=True) as conn:
            rows = await conn.execute(
                sa.select(changes)
                .where(changes.c.revision > after)
                .order_by(changes.c.revision)
                .limit(limit)
            )
            return [Change(**row._mapping) for row in rows]

    async def prune(self, before: datetime) -> int:
        """Delete changes older than ``before``; return the new compacted revision."""
        async with self.db.transaction() as conn:
            newest = (
                await conn.execute(
                    sa.select(sa.func.max(changes.c.revision)).where(changes.c.change_time < before)
                )
            ).scalar_one()
            if newest is None:
                return 0
            await conn.execute(sa.delete(changes).where(changes.c.revision <= newest))
            await conn.execute(
                sa.update(state)
                .where(state.c.id == 1, state.c.compacted_revision < newest)
                .values(compacted_revision=newest)
            )
            return int(newest)
