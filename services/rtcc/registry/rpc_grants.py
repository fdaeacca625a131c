"""RegistryService RPCs on sharing grants, and the access check other services use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.core.auth import Principal, current_principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from rtcc.registry import access, convert, edits, policy, validation
from rtcc.registry.context import RegistryContext
from rtcc.registry.grant_store import StoredGrant, narrow
from rtcc.registry.v1 import registry_pb2 as pb


class GrantRpcs:
    ctx: RegistryContext

    async def CreateSharingGrant(
        self, request: pb.CreateSharingGrantRequest, context: Any
    ) -> pb.CreateSharingGrantResponse:
        principal = current_principal()
        grant = pb.SharingGrant()
        grant.CopyFrom(request.grant)
        grant.grantor_organization_id = grant.grantor_organization_id or principal.org_id
        access.require_org_admin(principal, grant.grantor_organization_id)
        validation.grant(grant)
        now = self.ctx.clock()
        expire = convert.optional_time(grant, "expire_time")
        if expire is not None and expire <= now:
            raise InvalidArgument("grant.expire_time is in the past", field="grant.expire_time")
        async with self.ctx.feed.write(principal, now) as tx:
            for org_id, field in (
                (grant.grantor_organization_id, "grant.grantor_organization_id"),
                (grant.grantee_organization_id, "grant.grantee_organization_id"),
            ):
                if await self.ctx.organizations.get(tx.conn, org_id) is None:
                    raise NotFound(f"{field}: organisation {org_id} does not exist")
            await self._check_cameras(tx.conn, grant)
            created = await self.ctx.grants.create(tx, grant)
        return pb.CreateSharingGrantResponse(grant=created)

    async def GetSharingGrant(
        self, request: pb.GetSharingGrantRequest, context: Any
    ) -> pb.GetSharingGrantResponse:
        principal = current_principal()
        access.require_member(principal)
        grant_id = validation.check_id(request.grant_id, "grt", "grant_id")
        async with self.ctx.db.transaction(readonly=True) as conn:
            stored = await self._visible(conn, principal, grant_id, self.ctx.clock())
        return pb.GetSharingGrantResponse(grant=stored.grant)

    async def ListSharingGrants(
        self, request: pb.ListSharingGrantsRequest, context: Any
    ) -> pb.ListSharingGrantsResponse:
        principal = current_principal()
        access.require_member(principal)
        limit = validation.page_size(request.page_size)
        after = edits.after_id(request.page_token)
        org_id: str | None = request.organization_id or principal.org_id
        if request.organization_id:
            validation.check_id(request.organization_id, "org", "organization_id")
            if request.organization_id != principal.org_id and not access.sees_everything(
                principal
            ):
                raise PermissionDenied("only platform admins list other organisations' grants")
        elif access.sees_everything(principal):
            org_id = None  # every grant
        async with self.ctx.db.transaction(readonly=True) as conn:
            found = await self.ctx.grants.page(
                conn,
                org_id,
                request.direction,
                show_inactive=request.show_inactive,
                after=after,
                limit=limit + 1,
                now=self.ctx.clock(),
            )
        page = [s.grant for s in found[:limit]]
        token = edits.page_token(page[-1].id) if len(found) > limit else ""
        return pb.ListSharingGrantsResponse(grants=page, next_page_token=token)

    async def UpdateSharingGrant(
        self, request: pb.UpdateSharingGrantRequest, context: Any
    ) -> pb.UpdateSharingGrantResponse:
        principal = current_principal()
        patch = request.grant
        grant_id = validation.check_id(patch.id, "grt", "grant.id")
        paths = validation.update_mask(request.update_mask, edits.GRANT_PATHS)
        async with self.ctx.feed.write(principal) as tx:
            stored = await self._changeable(tx.conn, principal, grant_id, tx.now)
            edits.check_etag(patch.etag, stored.etag, "grant.etag")
            merged = edits.merge(stored.grant, patch, paths)
            validation.grant(merged)
            await self._check_cameras(tx.conn, merged)
            updated = await self.ctx.grants.save(tx, stored, merged)
        return pb.UpdateSharingGrantResponse(grant=updated)

    async def RevokeSharingGrant(
        self, request: pb.RevokeSharingGrantRequest, context: Any
    ) -> pb.RevokeSharingGrantResponse:
        principal = current_principal()
        grant_id = validation.check_id(request.grant_id, "grt", "grant_id")
        reason = validation.text(request.reason, "reason", limit=500)
        async with self.ctx.feed.write(principal) as tx:
            stored = await self._changeable(tx.conn, principal, grant_id, tx.now)
            edits.check_etag(request.etag, stored.etag, "etag")
            revoked = await self.ctx.grants.revoke(tx, stored, reason)
        return pb.RevokeSharingGrantResponse(grant=revoked)

    async def CheckCameraAccess(
        self, request: pb.CheckCameraAccessRequest, context: Any
    ) -> pb.CheckCameraAccessResponse:
        principal = current_principal()
        access.require_member(principal)
        camera_id = validation.check_id(request.camera_id, "cam", "camera_id")
        org_id = request.organization_id or principal.org_id
        validation.check_id(org_id, "org", "organization_id")
        if not access.may_check_for(principal, org_id):
            raise PermissionDenied("users may only check their own organisation's access")
        what = _what(request)
        # A service naming an organisation asks for one of its users; roles from the request.
        for_user = not principal.is_service() or bool(request.organization_id)
        roles = principal.roles if not principal.is_service() else frozenset(request.roles)
        kind = policy.caller_kind(is_service=not for_user, roles=roles)
        now = self.ctx.clock()
        async with self.ctx.db.transaction(readonly=True) as conn:
            stored = await self.ctx.cameras.get(conn, camera_id)
            granted = await self.ctx.grant_cache.get(conn, org_id, now)
            owner = stored.organization_id if stored is not None else ""
            memberships = await self.ctx.memberships_of(conn, granted, [(camera_id, owner)])
        rules = narrow(granted.by_grantor.get(owner, ()), memberships, camera_id)
        held = access.camera_access(org_id, owner, camera_id, rules, now)
        # Services know every camera exists (they answer "no grant", not NOT_FOUND).
        sees_all = principal.is_service() or kind is not policy.CallerKind.MEMBER
        if stored is None or not (held.visible or sees_all):
            raise NotFound(f"camera {camera_id} does not exist or is not shared with you")
        masked = len(stored.camera.privacy_masks) > 0
        at = convert.optional_time(request, "time")
        decision = policy.decide(kind, held, what, raw=request.raw, masked=masked, at=at)
        return pb.CheckCameraAccessResponse(
            allowed=decision.allowed,
            reason=decision.reason,
            access=convert.access_to_proto(held),
            privacy_masked=masked,
        )

    async def _visible(
        self, conn: AsyncConnection, principal: Principal, grant_id: str, now: datetime
    ) -> StoredGrant:
        stored = await self.ctx.grants.get(conn, grant_id, now)
        parties = (stored.rule.grantor_org_id, stored.rule.grantee_org_id) if stored else ()
        if stored is None or not (access.sees_everything(principal) or principal.org_id in parties):
            raise NotFound(f"grant {grant_id} does not exist or is not yours")
        return stored

    async def _changeable(
        self, conn: AsyncConnection, principal: Principal, grant_id: str, now: datetime
    ) -> StoredGrant:
        stored = await self._visible(conn, principal, grant_id, now)
        access.require_org_admin(principal, stored.rule.grantor_org_id)
        if stored.rule.revoke_time is not None:
            raise FailedPrecondition(f"grant {grant_id} is revoked; create a new grant instead")
        return stored

    async def _check_cameras(self, conn: AsyncConnection, grant: pb.SharingGrant) -> None:
        """Every granted camera exists and belongs to the grantor."""
        ids: Sequence[str] = list(grant.camera_ids)
        owned = await self.ctx.cameras.owned_ids(conn, grant.grantor_organization_id, ids)
        for i, camera_id in enumerate(ids):
            if camera_id not in owned:
                raise InvalidArgument(
                    f"grant.camera_ids[{i}] {camera_id} is not a camera of "
                    f"{grant.grantor_organization_id}",
                    field=f"grant.camera_ids[{i}]",
                )


_SCOPES = {
    pb.ACCESS_SCOPE_LIVE: policy.What.LIVE_VIDEO,
    pb.ACCESS_SCOPE_RECORDED: policy.What.RECORDED_VIDEO,
}


def _what(request: pb.CheckCameraAccessRequest) -> policy.What:
    """``what``, or the video named by the older ``scope`` field."""
    if request.what:
        try:
            return policy.What(request.what)
        except ValueError:
            raise InvalidArgument("unknown what", field="what") from None
    if request.scope not in _SCOPES:
        raise InvalidArgument(
            "set what (METADATA, LIVE_VIDEO, RECORDED_VIDEO, HEALTH, ANALYTICS) or scope "
            "(LIVE or RECORDED)",
            field="scope",
        )
    return _SCOPES[request.scope]
