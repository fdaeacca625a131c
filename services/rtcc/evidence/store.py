"""Cases and items in the database. Every change appends its custody entry in the
same transaction, so a change and its record commit or vanish together."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.backends.database import Database
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound
from rtcc.core.ids import new_id
from rtcc.evidence import alert_holds, custody_store, policy, tables
from rtcc.evidence.custody_store import Actor

_C, _I = tables.cases, tables.items

OPEN, CLOSED = 1, 2
PENDING, READY, FAILED, DELETED = 1, 2, 3, 4
CASE_CREATED, CASE_UPDATED, CASE_DELETED = 1, 2, 3
HOLD_SET, HOLD_RELEASED = 4, 5
ITEM_ADDED, ITEM_UPDATED, ITEM_DELETED, ITEM_ACCESSED = 6, 7, 8, 9


def etag() -> str:
    return secrets.token_hex(8)


def check_etag(row: Row[Any], given: str, what: str) -> None:
    if given and given != row.etag:
        raise FailedPrecondition(f"{what} changed since you read it (stale etag); read it again")


def no_hold() -> dict[str, Any]:
    return {
        "hold_active": False, "hold_reason": "", "hold_subject": "", "hold_org_id": "",
        "hold_time": None,
    }  # fmt: skip


class CaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- cases ---------------------------------------------------------------------

    async def create_case(self, values: dict[str, Any], actor: Actor, now: dt.datetime) -> Row[Any]:
        case_id = new_id("cas")
        row = {
            **values, **no_hold(), "id": case_id, "state": values.get("state") or OPEN,
            "creator_subject": actor.subject, "creator_org_id": actor.org_id,
            "create_time": now, "update_time": now, "close_time": None, "delete_time": None,
            "etag": etag(),
        }  # fmt: skip
        async with self.db.transaction() as conn:
            await conn.execute(_C.insert().values(**row))
            detail = f"case {values.get('case_number') or case_id}: {values['title']}"
            if values.get("linked_alert_ids"):
                detail += f"; from alerts {', '.join(values['linked_alert_ids'])}"
            await custody_store.append(conn, case_id, CASE_CREATED, actor, now, detail=detail)
            await alert_holds.adopt(
                conn, case_id, values["organization_id"], values.get("linked_alert_ids", []),
                actor, now,
            )  # fmt: skip
        return await self.get_case(case_id)

    async def get_case(self, case_id: str, conn: AsyncConnection | None = None) -> Row[Any]:
        query = sa.select(_C).where(_C.c.id == case_id, _C.c.delete_time.is_(None))
        if conn is not None:
            row = (await conn.execute(query.with_for_update())).first()
        else:
            async with self.db.transaction(readonly=True) as read:
                row = (await read.execute(query)).first()
        if row is None:
            raise NotFound(f"case {case_id} does not exist or you are not a member of it")
        return row

    async def list_cases(
        self,
        org_id: str | None,
        *,
        states: Sequence[int],
        text: str,
        limit: int,
        before: tuple[dt.datetime, str] | None,
    ) -> list[Row[Any]]:
        query = (
            sa.select(_C)
            .where(_C.c.delete_time.is_(None))
            .order_by(_C.c.update_time.desc(), _C.c.id.desc())
            .limit(limit)
        )
        if org_id is not None:
            query = query.where(_C.c.organization_id == org_id)
        if states:
            query = query.where(_C.c.state.in_(list(states)))
        if text:
            pattern = f"%{text.lower()}%"
            query = query.where(
                sa.or_(
                    sa.func.lower(_C.c.title).like(pattern),
                    sa.func.lower(sa.func.coalesce(_C.c.case_number, "")).like(pattern),
                    sa.func.lower(_C.c.description).like(pattern),
                )
            )
        if before is not None:
            query = query.where(sa.tuple_(_C.c.update_time, _C.c.id) < sa.tuple_(*before))
        async with self.db.transaction(readonly=True) as conn:
            return list((await conn.execute(query)).all())

    async def update_case(
        self, case_id: str, changes: dict[str, Any], given_etag: str, actor: Actor, now: dt.datetime
    ) -> Row[Any]:
        async with self.db.transaction() as conn:
            row = await self.get_case(case_id, conn)
            check_etag(row, given_etag, f"case {case_id}")
            if "state" in changes and changes["state"] != row.state:
                changes["close_time"] = now if changes["state"] == CLOSED else None
            changed = sorted(k for k, v in changes.items() if getattr(row, k) != v)
            await conn.execute(
                _C.update()
                .where(_C.c.id == case_id)
                .values(**changes, update_time=now, etag=etag())
            )
            await custody_store.append(
                conn, case_id, CASE_UPDATED, actor, now, detail=f"changed {', '.join(changed)}"
            )
            if "linked_alert_ids" in changes:
                added = sorted(set(changes["linked_alert_ids"]) - set(row.linked_alert_ids))
                await alert_holds.adopt(conn, case_id, row.organization_id, added, actor, now)
        return await self.get_case(case_id)

    async def delete_case(
        self, case_id: str, given_etag: str, reason: str, actor: Actor, now: dt.datetime
    ) -> list[Row[Any]]:
        """Mark the case and its items deleted; returns the items whose content to remove."""
        async with self.db.transaction() as conn:
            row = await self.get_case(case_id, conn)
            check_etag(row, given_etag, f"case {case_id}")
            if row.hold_active:
                raise FailedPrecondition(
                    f"case {case_id} is under legal hold ({row.hold_reason}); release the hold "
                    "before deleting it"
                )
            held = (
                await conn.execute(
                    sa.select(_I.c.id).where(
                        _I.c.case_id == case_id, _I.c.hold_active, _I.c.delete_time.is_(None)
                    )
                )
            ).first()
            if held is not None:
                raise FailedPrecondition(
                    f"item {held.id} of case {case_id} is under legal hold; release it first"
                )
            items = list(
                (
                    await conn.execute(
                        sa.select(_I).where(_I.c.case_id == case_id, _I.c.delete_time.is_(None))
                    )
                ).all()
            )
            await conn.execute(
                _I.update()
                .where(_I.c.case_id == case_id, _I.c.delete_time.is_(None))
                .values(state=DELETED, delete_time=now, update_time=now)
            )
            await conn.execute(
                _C.update().where(_C.c.id == case_id).values(delete_time=now, update_time=now)
            )
            await custody_store.append(
                conn, case_id, CASE_DELETED, actor, now, detail=reason or "deleted"
            )
            await alert_holds.release(conn, case_id, actor, "the case was deleted", now)
        return items

    async def set_case_hold(
        self, case_id: str, on: bool, reason: str, given_etag: str, actor: Actor, now: dt.datetime
    ) -> tuple[Row[Any], Row[Any]]:
        """(case before, case after) of putting on or lifting the case's hold."""
        async with self.db.transaction() as conn:
            row = await self.get_case(case_id, conn)
            check_etag(row, given_etag, f"case {case_id}")
            _check_hold_change(row, on, actor, f"case {case_id}")
            hold = _hold_values(on, reason, actor, now)
            await conn.execute(
                _C.update().where(_C.c.id == case_id).values(**hold, update_time=now, etag=etag())
            )
            action = HOLD_SET if on else HOLD_RELEASED
            await custody_store.append(conn, case_id, action, actor, now, detail=reason)
            if not on:
                await alert_holds.release(conn, case_id, actor, reason, now)
        return row, await self.get_case(case_id)

    # ---- items ---------------------------------------------------------------------

    async def add_item(
        self,
        case_id: str,
        values: dict[str, Any],
        actor: Actor,
        now: dt.datetime,
        *,
        conn: AsyncConnection | None = None,
    ) -> str:
        """Insert an item (pending or ready); a ready one gets its ITEM_ADDED entry."""
        item_id = values.pop("id", None) or new_id("itm")
        row = {
            "description": "", "content_type": "", "size_bytes": 0, "sha256": "",
            "object_key": "", "source_record": None, "export_job_id": "",
            "retention_category": "", "retain_until": None, **values, **no_hold(),
            "id": item_id, "case_id": case_id, "creator_subject": actor.subject,
            "creator_org_id": actor.org_id, "create_time": now, "update_time": now,
            "delete_time": None, "etag": etag(),
        }  # fmt: skip
        if conn is None:
            async with self.db.transaction() as own:
                await self._insert_item(own, case_id, row, actor, now)
        else:
            await self._insert_item(conn, case_id, row, actor, now)
        return item_id

    async def _insert_item(
        self, conn: AsyncConnection, case_id: str, row: dict[str, Any], actor: Actor, now: Any
    ) -> None:
        case = await self.get_case(case_id, conn)
        if case.state == CLOSED:
            raise FailedPrecondition(f"case {case_id} is closed; reopen it to add items")
        await conn.execute(_I.insert().values(**row))
        await conn.execute(_C.update().where(_C.c.id == case_id).values(update_time=now))
        if row["state"] == READY:
            await custody_store.append(
                conn, case_id, ITEM_ADDED, actor, now, item_id=row["id"],
                item_sha256=row["sha256"], detail=f"{row['display_name']}",
            )  # fmt: skip

    async def get_item(self, item_id: str, conn: AsyncConnection | None = None) -> Row[Any]:
        query = sa.select(_I).where(_I.c.id == item_id)
        if conn is not None:
            row = (await conn.execute(query.with_for_update())).first()
        else:
            async with self.db.transaction(readonly=True) as read:
                row = (await read.execute(query)).first()
        if row is None or row.delete_time is not None:
            raise NotFound(f"item {item_id} does not exist or you are not a member of its case")
        return row

    async def list_items(
        self, case_id: str, kinds: Sequence[int], limit: int, after: tuple[dt.datetime, str] | None
    ) -> list[Row[Any]]:
        query = (
            sa.select(_I)
            .where(_I.c.case_id == case_id, _I.c.delete_time.is_(None))
            .order_by(_I.c.create_time, _I.c.id)
            .limit(limit)
        )
        if kinds:
            query = query.where(_I.c.kind.in_(list(kinds)))
        if after is not None:
            query = query.where(sa.tuple_(_I.c.create_time, _I.c.id) > sa.tuple_(*after))
        async with self.db.transaction(readonly=True) as conn:
            return list((await conn.execute(query)).all())

    async def count_items(self, case_ids: Sequence[str]) -> dict[str, int]:
        if not case_ids:
            return {}
        query = (
            sa.select(_I.c.case_id, sa.func.count())
            .where(_I.c.case_id.in_(list(case_ids)), _I.c.delete_time.is_(None))
            .group_by(_I.c.case_id)
        )
        async with self.db.transaction(readonly=True) as conn:
            return {r[0]: int(r[1]) for r in (await conn.execute(query)).all()}

    async def update_item(
        self, item_id: str, changes: dict[str, Any], given_etag: str, actor: Actor, now: Any
    ) -> Row[Any]:
        async with self.db.transaction() as conn:
            row = await self.get_item(item_id, conn)
            check_etag(row, given_etag, f"item {item_id}")
            await conn.execute(
                _I.update()
                .where(_I.c.id == item_id)
                .values(**changes, update_time=now, etag=etag())
            )
            await custody_store.append(
                conn, row.case_id, ITEM_UPDATED, actor, now, item_id=item_id,
                item_sha256=row.sha256, detail=f"changed {', '.join(sorted(changes))}",
            )  # fmt: skip
        return await self.get_item(item_id)

    async def finish_item(
        self,
        item_id: str,
        values: dict[str, Any],
        actor: Actor,
        now: dt.datetime,
        detail: str,
        conn: AsyncConnection | None = None,
    ) -> None:
        """A pending item becomes ready (content stored and hashed) or failed."""
        if conn is None:
            async with self.db.transaction() as own:
                return await self.finish_item(item_id, values, actor, now, detail, own)
        row = await self.get_item(item_id, conn)
        await conn.execute(
            _I.update().where(_I.c.id == item_id).values(**values, update_time=now, etag=etag())
        )
        if values.get("state") == READY:
            await custody_store.append(
                conn, row.case_id, ITEM_ADDED, actor, now, item_id=item_id,
                item_sha256=values.get("sha256", ""), detail=detail,
            )  # fmt: skip
        return None

    async def delete_item(
        self, item_id: str, given_etag: str, reason: str, actor: Actor, now: dt.datetime
    ) -> Row[Any]:
        if not reason:
            raise InvalidArgument("say why the item is removed (reason)", field="reason")
        async with self.db.transaction() as conn:
            row = await self.get_item(item_id, conn)
            check_etag(row, given_etag, f"item {item_id}")
            case = await self.get_case(row.case_id, conn)
            if case.hold_active or row.hold_active:
                raise FailedPrecondition(
                    f"item {item_id} is under legal hold; a second authorised person must "
                    "release the hold before it can be removed"
                )
            await conn.execute(
                _I.update()
                .where(_I.c.id == item_id)
                .values(state=DELETED, delete_time=now, update_time=now, etag=etag())
            )
            await custody_store.append(
                conn, row.case_id, ITEM_DELETED, actor, now, item_id=item_id,
                item_sha256=row.sha256, detail=reason,
            )  # fmt: skip
        return row

    async def set_item_hold(
        self, item_id: str, on: bool, reason: str, actor: Actor, now: dt.datetime
    ) -> tuple[Row[Any], Row[Any]]:
        async with self.db.transaction() as conn:
            row = await self.get_item(item_id, conn)
            _check_hold_change(row, on, actor, f"item {item_id}")
            hold = _hold_values(on, reason, actor, now)
            await conn.execute(
                _I.update().where(_I.c.id == item_id).values(**hold, update_time=now, etag=etag())
            )
            action = HOLD_SET if on else HOLD_RELEASED
            await custody_store.append(
                conn, row.case_id, action, actor, now, item_id=item_id,
                item_sha256=row.sha256, detail=reason,
            )  # fmt: skip
        return row, await self.get_item(item_id)

    async def record(
        self,
        case_id: str,
        action: int,
        actor: Actor,
        now: dt.datetime,
        *,
        item_id: str = "",
        item_sha256: str = "",
        detail: str = "",
    ) -> None:
        """A custody entry on its own (an access, a share, a package export)."""
        async with self.db.transaction() as conn:
            await custody_store.append(
                conn, case_id, action, actor, now, item_id=item_id,
                item_sha256=item_sha256, detail=detail,
            )  # fmt: skip

    async def held_objects(self, case_id: str) -> list[str]:
        """Object keys of the case's stored items (for the object store's legal hold)."""
        query = sa.select(_I.c.object_key).where(
            _I.c.case_id == case_id, _I.c.object_key != "", _I.c.state == READY
        )
        async with self.db.transaction(readonly=True) as conn:
            return [r[0] for r in (await conn.execute(query)).all()]


def _check_hold_change(row: Row[Any], on: bool, actor: Actor, what: str) -> None:
    if on and row.hold_active:
        raise FailedPrecondition(f"{what} is already under legal hold ({row.hold_reason})")
    if not on:
        if not row.hold_active:
            raise FailedPrecondition(f"{what} is not under legal hold")
        policy.require_second_person(actor.subject, row.hold_subject)


def _hold_values(on: bool, reason: str, actor: Actor, now: dt.datetime) -> dict[str, Any]:
    return {
        "hold_active": on, "hold_reason": reason, "hold_subject": actor.subject,
        "hold_org_id": actor.org_id, "hold_time": now,
    }  # fmt: skip
