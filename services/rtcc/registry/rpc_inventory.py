"""RegistryService RPCs for whole inventories: import, export, and the audit trail."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from google.protobuf import struct_pb2

from rtcc.backends.audit import audit_log
from rtcc.core.auth import Principal, current_principal
from rtcc.core.errors import InvalidArgument, NotFound
from rtcc.registry import access, edits, inventory, validation
from rtcc.registry.change_log import Transaction
from rtcc.registry.context import RegistryContext
from rtcc.registry.credentials import Credentials
from rtcc.registry.inventory import InventoryRow
from rtcc.registry.tables import audit_orgs
from rtcc.registry.v1 import registry_pb2 as pb

_OUTCOME_CREATED = pb.IMPORT_ROW_OUTCOME_CREATED
_OUTCOME_VALID = pb.IMPORT_ROW_OUTCOME_VALID
_OUTCOME_REJECTED = pb.IMPORT_ROW_OUTCOME_REJECTED


def _owner_org(principal: Principal, requested: str) -> str:
    org_id = requested or principal.org_id
    validation.check_id(org_id, "org", "organization_id")
    access.require_org_admin(principal, org_id)
    return org_id


def _against_existing(
    rows: list[InventoryRow], externals: set[str], urls: set[str]
) -> list[InventoryRow]:
    """Reject rows duplicating a camera the organisation already has."""
    out = []
    for row in rows:
        cam = row.camera
        if cam is not None and cam.external_id in externals:
            message = f"external_id {cam.external_id!r} is already registered"
            row = InventoryRow(row.row, None, "external_id", message, row.external_id)
        elif cam is not None and cam.streams.main_url in urls:
            message = "main_url is already registered for another camera"
            row = InventoryRow(row.row, None, "main_url", message, row.external_id)
        out.append(row)
    return out


def _report(row: InventoryRow, outcome: int, camera_id: str = "") -> pb.ImportRowResult:
    return pb.ImportRowResult(
        row=row.row,
        outcome=outcome,  # type: ignore[arg-type]
        camera_id=camera_id,
        field=row.field,
        message=row.message,
        external_id=row.external_id,
    )


class InventoryRpcs:
    ctx: RegistryContext

    async def ImportCameras(
        self, request: pb.ImportCamerasRequest, context: Any
    ) -> pb.ImportCamerasResponse:
        principal = current_principal()
        org_id = _owner_org(principal, request.organization_id)
        rows = await asyncio.to_thread(inventory.parse, request.content, request.format, org_id)
        async with self.ctx.feed.write(principal) as tx:
            if await self.ctx.organizations.get(tx.conn, org_id) is None:
                raise NotFound(f"organization_id: organisation {org_id} does not exist")
            rows = _against_existing(rows, *await self.ctx.cameras.existing_keys(tx.conn, org_id))
            results = await self._apply(tx, request, rows)
        rejected = sum(r.outcome == _OUTCOME_REJECTED for r in results)
        created = sum(r.outcome == _OUTCOME_CREATED for r in results)
        return pb.ImportCamerasResponse(
            rows=results, created_count=created, rejected_count=rejected
        )

    async def _apply(
        self, tx: Transaction, request: pb.ImportCamerasRequest, rows: list[InventoryRow]
    ) -> list[pb.ImportRowResult]:
        valid = [r for r in rows if r.camera is not None]
        dry = request.validate_only or (request.all_or_nothing and len(valid) < len(rows))
        created_ids: dict[int, str] = {}
        if not dry and valid:
            items: list[tuple[pb.Camera, Credentials | None]] = [
                (r.camera, edits.credentials_of(r.camera.streams)) for r in valid if r.camera
            ]
            created = await self.ctx.cameras.create(tx, items)
            created_ids = {r.row: c.id for r, c in zip(valid, created, strict=True)}
        results = []
        for row in rows:
            if row.camera is None:
                results.append(_report(row, _OUTCOME_REJECTED))
            elif row.row in created_ids:
                results.append(_report(row, _OUTCOME_CREATED, created_ids[row.row]))
            else:
                results.append(_report(row, _OUTCOME_VALID))
        return results

    async def ExportCameras(
        self, request: pb.ExportCamerasRequest, context: Any
    ) -> pb.ExportCamerasResponse:
        principal = current_principal()
        org_id = _owner_org(principal, request.organization_id)
        if request.format not in (pb.INVENTORY_FORMAT_CSV, pb.INVENTORY_FORMAT_GEOJSON):
            raise InvalidArgument("format must be CSV or GEOJSON", field="format")
        everything = access.Visibility(everything=True, org_id=org_id)
        now = self.ctx.clock()
        cameras: list[pb.Camera] = []
        async with self.ctx.db.transaction(readonly=True) as conn:
            after = ""
            while True:
                page = await self.ctx.cameras.page(
                    conn, everything, now, organization_id=org_id, after=after, limit=1000
                )
                cameras.extend(s.camera for s in page)
                if len(page) < 1000:
                    break
                after = page[-1].camera.id
        content, media_type = await asyncio.to_thread(inventory.export, cameras, request.format)
        return pb.ExportCamerasResponse(
            content=content, content_type=media_type, camera_count=len(cameras)
        )

    async def ListAuditEntries(
        self, request: pb.ListAuditEntriesRequest, context: Any
    ) -> pb.ListAuditEntriesResponse:
        principal = current_principal()
        limit = validation.page_size(request.page_size)
        before_id = edits.after_id(request.page_token)
        org_id = request.organization_id
        if org_id or not principal.has_any_role(access.PLATFORM_ADMIN):
            org_id = _owner_org(principal, org_id)
        scope = sa.select(audit_orgs.c.audit_id)
        if org_id:
            scope = scope.where(audit_orgs.c.organization_id == org_id)
        query = sa.select(audit_log).where(audit_log.c.id.in_(scope))
        if request.resource_type:
            query = query.where(audit_log.c.resource_type == request.resource_type)
        if request.resource_id:
            query = query.where(audit_log.c.resource_id == request.resource_id)
        if before_id:
            if not before_id.isdigit():
                raise InvalidArgument(
                    "page_token is not a token this API returned", field="page_token"
                )
            query = query.where(audit_log.c.id < int(before_id))
        async with self.ctx.db.transaction(readonly=True) as conn:
            rows = list(await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit + 1)))
        entries = [_entry(row) for row in rows[:limit]]
        token = edits.page_token(str(rows[limit - 1].id)) if len(rows) > limit else ""
        return pb.ListAuditEntriesResponse(entries=entries, next_page_token=token)


def _entry(row: Any) -> pb.AuditEntry:
    entry = pb.AuditEntry(
        id=str(row.id),
        action=row.action,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        request_id=row.request_id or "",
        outcome=row.outcome,
        reason=row.reason or "",
    )
    entry.time.FromDatetime(row.time)
    entry.actor.subject, entry.actor.organization_id = row.actor_subject, row.actor_org_id
    snapshot = row.after or row.before or {}
    entry.organization_id = str(
        snapshot.get("organization_id")
        or snapshot.get("grantor_organization_id")
        or (row.resource_id if row.resource_type == "organization" else "")
    )
    for name in ("before", "after"):
        value = getattr(row, name)
        if value:
            struct = struct_pb2.Struct()
            struct.update(value)
            getattr(entry, name).CopyFrom(struct)
    return entry
