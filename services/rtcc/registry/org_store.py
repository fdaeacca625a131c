"""Persistence of organisations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.core.errors import AlreadyExists, FailedPrecondition
from rtcc.core.ids import new_id
from rtcc.registry import convert
from rtcc.registry.change_log import Transaction
from rtcc.registry.tables import cameras, grants, organizations
from rtcc.registry.v1 import registry_pb2 as pb


@dataclass(frozen=True)
class StoredOrganization:
    organization: pb.Organization
    revision: int

    @property
    def etag(self) -> str:
        return str(self.revision)


def _stored(m: Any) -> StoredOrganization:
    out = pb.Organization(
        id=m["id"],
        display_name=m["display_name"],
        kind=m["kind"],
        contact_email=m["contact_email"],
        etag=str(m["revision"]),
    )
    convert.set_time(out.create_time, m["create_time"])
    convert.set_time(out.update_time, m["update_time"])
    return StoredOrganization(out, m["revision"])


class OrganizationStore:
    """Organisations in the registry's tables."""

    async def get(self, conn: AsyncConnection, org_id: str) -> StoredOrganization | None:
        row = (
            await conn.execute(sa.select(organizations).where(organizations.c.id == org_id))
        ).first()
        return _stored(row._mapping) if row is not None else None

    async def page(
        self,
        conn: AsyncConnection,
        *,
        everything: bool,
        own: str,
        partners: Iterable[str],
        after: str,
        limit: int,
    ) -> list[StoredOrganization]:
        """Visible organisations: all, or own + partners + every agency (public bodies)."""
        query = sa.select(organizations)
        if not everything:
            query = query.where(
                sa.or_(
                    organizations.c.id == own,
                    organizations.c.id.in_(sorted(partners)),
                    organizations.c.kind == pb.ORGANIZATION_KIND_AGENCY,
                )
            )
        if after:
            query = query.where(organizations.c.id > after)
        rows = await conn.execute(query.order_by(organizations.c.id).limit(limit))
        return [_stored(row._mapping) for row in rows]

    async def create(self, tx: Transaction, org: pb.Organization, org_id: str) -> pb.Organization:
        revision = await tx.revision()
        values = {
            "id": org_id or new_id("org"),
            "display_name": org.display_name,
            "kind": org.kind,
            "contact_email": org.contact_email,
            "revision": revision,
            "create_time": tx.now,
            "update_time": tx.now,
        }
        try:
            await tx.conn.execute(sa.insert(organizations).values(**values))
        except AlreadyExists:
            raise AlreadyExists(f"organization_id {values['id']} already exists") from None
        out = _stored(values).organization
        tx.audit(
            "organization.create",
            "organization",
            out.id,
            [out.id],
            after=convert.organization_json(out),
        )
        return out

    async def save(
        self, tx: Transaction, stored: StoredOrganization, merged: pb.Organization
    ) -> pb.Organization:
        revision = await tx.revision()
        await tx.conn.execute(
            sa.update(organizations)
            .where(organizations.c.id == stored.organization.id)
            .values(
                display_name=merged.display_name,
                kind=merged.kind,
                contact_email=merged.contact_email,
                revision=revision,
                update_time=tx.now,
            )
        )
        after = await self.get(tx.conn, stored.organization.id)
        assert after is not None
        tx.audit(
            "organization.update",
            "organization",
            stored.organization.id,
            [stored.organization.id],
            before=convert.organization_json(stored.organization),
            after=convert.organization_json(after.organization),
        )
        return after.organization

    async def delete(self, tx: Transaction, stored: StoredOrganization) -> None:
        org_id = stored.organization.id
        await tx.revision()  # serialise with camera and grant writers
        owned = await tx.conn.scalar(
            sa.select(sa.func.count()).where(cameras.c.organization_id == org_id)
        )
        shared = await tx.conn.scalar(
            sa.select(sa.func.count()).where(
                sa.or_(grants.c.grantor_org_id == org_id, grants.c.grantee_org_id == org_id)
            )
        )
        if owned or shared:
            raise FailedPrecondition(
                f"organisation {org_id} still owns {owned} cameras and is party to {shared} "
                "grants (kept for audit, even revoked); delete its cameras first — an "
                "organisation with grant history cannot be deleted"
            )
        await tx.conn.execute(sa.delete(organizations).where(organizations.c.id == org_id))
        tx.audit(
            "organization.delete",
            "organization",
            org_id,
            [org_id],
            before=convert.organization_json(stored.organization),
        )
