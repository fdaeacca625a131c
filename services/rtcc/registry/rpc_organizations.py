"""RegistryService RPCs on organisations."""

from __future__ import annotations

from typing import Any

from rtcc.core.auth import current_principal
from rtcc.core.errors import NotFound, PermissionDenied
from rtcc.registry import access, edits, validation
from rtcc.registry.context import RegistryContext
from rtcc.registry.org_store import StoredOrganization
from rtcc.registry.v1 import registry_pb2 as pb


class OrganizationRpcs:
    ctx: RegistryContext

    async def CreateOrganization(
        self, request: pb.CreateOrganizationRequest, context: Any
    ) -> pb.CreateOrganizationResponse:
        principal = current_principal()
        access.require_platform_admin(principal)
        validation.organization(request.organization)
        if request.organization_id:
            validation.check_id(request.organization_id, "org", "organization_id")
        async with self.ctx.feed.write(principal) as tx:
            org = await self.ctx.organizations.create(
                tx, request.organization, request.organization_id
            )
        return pb.CreateOrganizationResponse(organization=org)

    async def GetOrganization(
        self, request: pb.GetOrganizationRequest, context: Any
    ) -> pb.GetOrganizationResponse:
        principal = current_principal()
        access.require_member(principal)
        org_id = validation.check_id(request.organization_id, "org", "organization_id")
        async with self.ctx.db.transaction(readonly=True) as conn:
            stored = await self.ctx.organizations.get(conn, org_id)
            partners = await self.ctx.grants.partners(conn, principal.org_id, self.ctx.clock())
        public = stored is not None and stored.organization.kind == pb.ORGANIZATION_KIND_AGENCY
        if stored is None or not (public or access.sees_organization(principal, org_id, partners)):
            raise NotFound(f"organisation {org_id} does not exist or is not visible to you")
        return pb.GetOrganizationResponse(organization=stored.organization)

    async def ListOrganizations(
        self, request: pb.ListOrganizationsRequest, context: Any
    ) -> pb.ListOrganizationsResponse:
        principal = current_principal()
        access.require_member(principal)
        limit = validation.page_size(request.page_size)
        after = edits.after_id(request.page_token)
        async with self.ctx.db.transaction(readonly=True) as conn:
            partners = await self.ctx.grants.partners(conn, principal.org_id, self.ctx.clock())
            found = await self.ctx.organizations.page(
                conn,
                everything=access.sees_everything(principal),
                own=principal.org_id,
                partners=partners,
                after=after,
                limit=limit + 1,
            )
        page = [s.organization for s in found[:limit]]
        token = edits.page_token(page[-1].id) if len(found) > limit else ""
        return pb.ListOrganizationsResponse(organizations=page, next_page_token=token)

    async def UpdateOrganization(
        self, request: pb.UpdateOrganizationRequest, context: Any
    ) -> pb.UpdateOrganizationResponse:
        principal = current_principal()
        patch = request.organization
        org_id = validation.check_id(patch.id, "org", "organization.id")
        access.require_org_admin(principal, org_id)
        paths = validation.update_mask(request.update_mask, edits.ORGANIZATION_PATHS)
        if "kind" in paths and not principal.has_any_role(access.PLATFORM_ADMIN):
            raise PermissionDenied("only a platform admin may change an organisation's kind")
        async with self.ctx.feed.write(principal) as tx:
            stored = await self._get(tx.conn, org_id)
            edits.check_etag(patch.etag, stored.etag, "organization.etag")
            merged = edits.merge(stored.organization, patch, paths)
            validation.organization(merged)
            org = await self.ctx.organizations.save(tx, stored, merged)
        return pb.UpdateOrganizationResponse(organization=org)

    async def DeleteOrganization(
        self, request: pb.DeleteOrganizationRequest, context: Any
    ) -> pb.DeleteOrganizationResponse:
        principal = current_principal()
        access.require_platform_admin(principal)
        org_id = validation.check_id(request.organization_id, "org", "organization_id")
        async with self.ctx.feed.write(principal) as tx:
            stored = await self._get(tx.conn, org_id)
            await self.ctx.organizations.delete(tx, stored)
        return pb.DeleteOrganizationResponse()

    async def _get(self, conn: Any, org_id: str) -> StoredOrganization:
        stored = await self.ctx.organizations.get(conn, org_id)
        if stored is None:
            raise NotFound(f"organisation {org_id} does not exist")
        return stored
