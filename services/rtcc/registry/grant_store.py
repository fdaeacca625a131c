"""Persistence of sharing grants, and the queries access decisions are made from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.core.ids import new_id
from rtcc.registry import access, convert
from rtcc.registry.change_log import Transaction
from rtcc.registry.tables import cameras, grant_cameras, grants, state
from rtcc.registry.v1 import registry_pb2 as pb

_CHUNK = 1000


@dataclass(frozen=True)
class StoredGrant:
    grant: pb.SharingGrant
    rule: access.Grant
    revision: int

    @property
    def etag(self) -> str:
        return str(self.revision)


_RULES = sa.select(
    grants.c.id,
    grants.c.grantor_org_id,
    grants.c.grantee_org_id,
    grants.c.all_cameras,
    grants.c.live,
    grants.c.recorded,
    grants.c.schedule,
    grants.c.start_time,
    grants.c.expire_time,
    grants.c.revoke_time,
)


_MEMBERSHIPS = sa.select(grant_cameras.c.camera_id, grant_cameras.c.grant_id).where(
    grant_cameras.c.grant_id.in_(sa.bindparam("grants", expanding=True)),
    grant_cameras.c.camera_id.in_(sa.bindparam("cameras", expanding=True)),
)


def in_force_clause(now: datetime) -> sa.ColumnElement[bool]:
    """SQL twin of :func:`access.in_force`."""
    return sa.and_(
        grants.c.revoke_time.is_(None),
        sa.or_(grants.c.expire_time.is_(None), grants.c.expire_time > now),
        sa.or_(grants.c.start_time.is_(None), grants.c.start_time <= now),
    )


def _rule(m: Any, camera_ids: Iterable[str]) -> access.Grant:
    schedule = convert.schedule_from_json(m["schedule"]) if m["schedule"] else None
    return access.Grant(
        id=m["id"],
        grantor_org_id=m["grantor_org_id"],
        grantee_org_id=m["grantee_org_id"],
        all_cameras=m["all_cameras"],
        camera_ids=frozenset(camera_ids),
        live=m["live"],
        recorded=m["recorded"],
        schedule=schedule,
        start_time=m["start_time"],
        expire_time=m["expire_time"],
        revoke_time=m["revoke_time"],
    )


def _stored(m: Any, camera_ids: Sequence[str], now: datetime) -> StoredGrant:
    rule = _rule(m, camera_ids)
    out = pb.SharingGrant(
        id=m["id"],
        grantor_organization_id=m["grantor_org_id"],
        grantee_organization_id=m["grantee_org_id"],
        all_cameras=m["all_cameras"],
        camera_ids=sorted(camera_ids),
        live=m["live"],
        recorded=m["recorded"],
        revoke_reason=m["revoke_reason"],
        description=m["description"],
        state=convert.grant_state(rule, now),
        etag=str(m["revision"]),
    )
    if m["schedule"]:
        convert.schedule_to_proto(m["schedule"], out.schedule)
    for name in ("start_time", "expire_time", "revoke_time", "create_time", "update_time"):
        convert.set_time(getattr(out, name), m[name])
    out.creator.subject, out.creator.organization_id = m["creator_subject"], m["creator_org_id"]
    return StoredGrant(out, rule, m["revision"])


def _values(grant: pb.SharingGrant, revision: int, now: datetime) -> dict[str, Any]:
    return {
        "all_cameras": grant.all_cameras,
        "live": grant.live,
        "recorded": grant.recorded,
        "schedule": convert.schedule_to_json(grant.schedule)
        if grant.HasField("schedule")
        else None,
        "start_time": convert.optional_time(grant, "start_time"),
        "expire_time": convert.optional_time(grant, "expire_time"),
        "description": grant.description,
        "revision": revision,
        "update_time": now,
    }


class GrantStore:
    """Sharing grants in the registry's tables."""

    # ---- reads ---------------------------------------------------------------------

    async def get(self, conn: AsyncConnection, grant_id: str, now: datetime) -> StoredGrant | None:
        row = (await conn.execute(sa.select(grants).where(grants.c.id == grant_id))).first()
        if row is None:
            return None
        ids = await self._camera_ids(conn, [grant_id])
        return _stored(row._mapping, ids.get(grant_id, []), now)

    async def page(
        self,
        conn: AsyncConnection,
        org_id: str | None,
        direction: int,
        *,
        show_inactive: bool,
        after: str,
        limit: int,
        now: datetime,
    ) -> list[StoredGrant]:
        """Grants given and/or received by ``org_id`` (None: every grant), by id."""
        query = sa.select(grants)
        if org_id is not None:
            sides = []
            if direction in (pb.GRANT_DIRECTION_UNSPECIFIED, pb.GRANT_DIRECTION_GIVEN):
                sides.append(grants.c.grantor_org_id == org_id)
            if direction in (pb.GRANT_DIRECTION_UNSPECIFIED, pb.GRANT_DIRECTION_RECEIVED):
                sides.append(grants.c.grantee_org_id == org_id)
            query = query.where(sa.or_(*sides))
        if not show_inactive:
            query = query.where(
                grants.c.revoke_time.is_(None),
                sa.or_(grants.c.expire_time.is_(None), grants.c.expire_time > now),
            )
        if after:
            query = query.where(grants.c.id > after)
        rows = list(await conn.execute(query.order_by(grants.c.id).limit(limit)))
        ids = await self._camera_ids(conn, [r.id for r in rows])
        return [_stored(r._mapping, ids.get(r.id, []), now) for r in rows]

    async def _camera_ids(
        self, conn: AsyncConnection, grant_ids: list[str]
    ) -> dict[str, list[str]]:
        """Granted cameras that still exist, per grant."""
        if not grant_ids:
            return {}
        rows = await conn.execute(
            sa.select(grant_cameras.c.grant_id, grant_cameras.c.camera_id)
            .join(cameras, cameras.c.id == grant_cameras.c.camera_id)
            .where(grant_cameras.c.grant_id.in_(grant_ids))
        )
        out: dict[str, list[str]] = {}
        for row in rows:
            out.setdefault(row.grant_id, []).append(row.camera_id)
        return out

    async def in_force_for(
        self, conn: AsyncConnection, grantee_org_id: str, now: datetime
    ) -> tuple[list[access.Grant], datetime | None]:
        """The grants in force for a grantee (without camera lists), and the next time
        that set changes by the clock alone (a pending grant starts, one expires)."""
        rows = await conn.execute(
            _RULES.where(
                grants.c.grantee_org_id == grantee_org_id,
                grants.c.revoke_time.is_(None),
                sa.or_(grants.c.expire_time.is_(None), grants.c.expire_time > now),
            )
        )
        rules = [_rule(row._mapping, ()) for row in rows]
        in_force = [g for g in rules if access.in_force(g, now)]
        pending = [g.start_time for g in rules if g.start_time and g.start_time > now]
        expiring = [g.expire_time for g in in_force if g.expire_time]
        return in_force, min(pending + expiring, default=None)

    async def memberships(
        self, conn: AsyncConnection, grant_ids: Sequence[str], camera_ids: Iterable[str]
    ) -> dict[str, set[str]]:
        """camera id → the given grants that name it."""
        camera_list = sorted(set(camera_ids))
        out: dict[str, set[str]] = {}
        if not grant_ids or not camera_list:
            return out
        for start in range(0, len(camera_list), _CHUNK):
            chunk = camera_list[start : start + _CHUNK]
            rows = await conn.execute(_MEMBERSHIPS, {"grants": list(grant_ids), "cameras": chunk})
            for row in rows:
                out.setdefault(row.camera_id, set()).add(row.grant_id)
        return out

    async def named_memberships(
        self, conn: AsyncConnection, grant_ids: Sequence[str], limit: int
    ) -> dict[str, set[str]] | None:
        """camera id → grants naming it, for all the given grants; None beyond ``limit``."""
        out: dict[str, set[str]] = {}
        if not grant_ids:
            return out
        query = (
            sa.select(grant_cameras.c.camera_id, grant_cameras.c.grant_id)
            .where(grant_cameras.c.grant_id.in_(list(grant_ids)))
            .limit(limit + 1)
        )
        rows = (await conn.execute(query)).all()
        if len(rows) > limit:
            return None
        for row in rows:
            out.setdefault(row.camera_id, set()).add(row.grant_id)
        return out

    async def partners(self, conn: AsyncConnection, org_id: str, now: datetime) -> set[str]:
        """Organisations sharing with ``org_id`` in either direction (grants in force)."""
        rows = await conn.execute(
            sa.select(grants.c.grantor_org_id, grants.c.grantee_org_id).where(
                sa.or_(grants.c.grantor_org_id == org_id, grants.c.grantee_org_id == org_id),
                in_force_clause(now),
            )
        )
        return {o for row in rows for o in (row.grantor_org_id, row.grantee_org_id)} - {org_id}

    # ---- writes --------------------------------------------------------------------

    async def create(self, tx: Transaction, grant: pb.SharingGrant) -> pb.SharingGrant:
        revision = await tx.revision()
        values = _values(grant, revision, tx.now)
        values.update(
            id=new_id("grt"),
            grantor_org_id=grant.grantor_organization_id,
            grantee_org_id=grant.grantee_organization_id,
            revoke_time=None,
            revoke_reason="",
            creator_subject=tx.actor.subject,
            creator_org_id=tx.actor.org_id,
            expiry_announced=False,
            create_time=tx.now,
        )
        await tx.conn.execute(sa.insert(grants).values(**values))
        await self._set_cameras(tx.conn, values["id"], grant.camera_ids)
        out = _stored(values, list(grant.camera_ids), tx.now).grant
        await self._record(tx, "grant.create", revision, out, before=None)
        return out

    async def save(
        self, tx: Transaction, stored: StoredGrant, merged: pb.SharingGrant
    ) -> pb.SharingGrant:
        revision = await tx.revision()
        values = _values(merged, revision, tx.now)
        values["expiry_announced"] = False
        await tx.conn.execute(
            sa.update(grants).where(grants.c.id == stored.grant.id).values(**values)
        )
        await tx.conn.execute(
            sa.delete(grant_cameras).where(grant_cameras.c.grant_id == stored.grant.id)
        )
        await self._set_cameras(tx.conn, stored.grant.id, merged.camera_ids)
        return await self._reload(tx, "grant.update", revision, stored)

    async def revoke(self, tx: Transaction, stored: StoredGrant, reason: str) -> pb.SharingGrant:
        revision = await tx.revision()
        await tx.conn.execute(
            sa.update(grants)
            .where(grants.c.id == stored.grant.id)
            .values(revoke_time=tx.now, revoke_reason=reason, revision=revision, update_time=tx.now)
        )
        return await self._reload(tx, "grant.revoke", revision, stored)

    async def expired_unannounced(self, conn: AsyncConnection, now: datetime) -> list[str]:
        """Grants that expired since the last sweep announced expiries."""
        rows = await conn.execute(
            sa.select(grants.c.id).where(
                grants.c.expire_time <= now,
                grants.c.revoke_time.is_(None),
                grants.c.expiry_announced.is_(False),
            )
        )
        return [row.id for row in rows]

    async def announce_expired(self, tx: Transaction) -> int:
        """Put grants that expired since the last sweep on the change feed."""
        due = await self.expired_unannounced(tx.conn, tx.now)
        for grant_id in due:
            stored = await self.get(tx.conn, grant_id, tx.now)
            assert stored is not None
            await tx.conn.execute(
                sa.update(grants).where(grants.c.id == grant_id).values(expiry_announced=True)
            )
            tx.change(
                await tx.revision(),
                pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED,
                stored.rule.grantor_org_id,
                grantee_org_id=stored.rule.grantee_org_id,
                payload=stored.grant.SerializeToString(),
            )
        return len(due)

    async def _reload(
        self, tx: Transaction, action: str, revision: int, before: StoredGrant
    ) -> pb.SharingGrant:
        after = await self.get(tx.conn, before.grant.id, tx.now)
        assert after is not None
        await self._record(tx, action, revision, after.grant, before=before.grant)
        return after.grant

    async def _record(
        self,
        tx: Transaction,
        action: str,
        revision: int,
        grant: pb.SharingGrant,
        before: pb.SharingGrant | None,
    ) -> None:
        grantor, grantee = grant.grantor_organization_id, grant.grantee_organization_id
        await tx.conn.execute(sa.update(state).values(grants_revision=revision))
        tx.change(
            revision,
            pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED,
            grantor,
            grantee_org_id=grantee,
            payload=grant.SerializeToString(),
        )
        tx.audit(
            action,
            "grant",
            grant.id,
            [grantor, grantee],
            before=convert.grant_json(before) if before else None,
            after=convert.grant_json(grant),
        )

    async def _set_cameras(
        self, conn: AsyncConnection, grant_id: str, camera_ids: Sequence[str]
    ) -> None:
        ids = list(camera_ids)
        for start in range(0, len(ids), _CHUNK):
            rows = [{"grant_id": grant_id, "camera_id": c} for c in ids[start : start + _CHUNK]]
            await conn.execute(sa.insert(grant_cameras), rows)

    async def prune_memberships(self, conn: AsyncConnection, live_camera_ids: Any) -> None:
        """Forget memberships of cameras that are gone and no longer on the feed."""
        await conn.execute(
            sa.delete(grant_cameras).where(
                grant_cameras.c.camera_id.not_in(sa.select(cameras.c.id)),
                grant_cameras.c.camera_id.not_in(live_camera_ids),
            )
        )


def narrow(
    rules: Sequence[access.Grant], memberships: Mapping[str, set[str]], camera_id: str
) -> list[access.Grant]:
    """The caller's grants as they bear on one camera (camera lists narrowed to it)."""
    named = memberships.get(camera_id, set())
    return [
        g
        if g.all_cameras
        else replace(g, camera_ids=frozenset({camera_id} if g.id in named else ()))
        for g in rules
    ]
