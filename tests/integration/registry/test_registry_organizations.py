"""Organisations, the audit trail, and the schema the migration builds."""

from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rtcc.backends.database import Database, metadata
from rtcc.registry import tables
from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry


async def test_organisation_lifecycle_with_etags(registry: Registry) -> None:
    admin = registry.admin
    created = (
        await admin.CreateOrganization(
            pb.CreateOrganizationRequest(
                organization=pb.Organization(
                    display_name="Corner Deli", kind=pb.ORGANIZATION_KIND_PARTNER_BUSINESS
                )
            )
        )
    ).organization
    assert created.id.startswith("org_") and created.etag
    own = registry.stub(created.id, "partner-admin")
    mask = {"paths": ["contact_email"]}
    patch = pb.Organization(id=created.id, contact_email="owner@deli.example", etag=created.etag)
    updated = (
        await own.UpdateOrganization(
            pb.UpdateOrganizationRequest(organization=patch, update_mask=mask)
        )
    ).organization
    assert updated.contact_email == "owner@deli.example" and updated.etag != created.etag
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await own.UpdateOrganization(
            pb.UpdateOrganizationRequest(organization=patch, update_mask=mask)
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    kind = pb.Organization(id=created.id, kind=pb.ORGANIZATION_KIND_AGENCY)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await own.UpdateOrganization(
            pb.UpdateOrganizationRequest(organization=kind, update_mask={"paths": ["kind"]})
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    camera = await registry.camera(created.id, 16, 26)
    delete = pb.DeleteOrganizationRequest(organization_id=created.id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.DeleteOrganization(delete)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await own.DeleteCamera(pb.DeleteCameraRequest(camera_id=camera.id))
    await admin.DeleteOrganization(delete)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.GetOrganization(pb.GetOrganizationRequest(organization_id=created.id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_partners_see_agencies_and_their_counterparts_only(registry: Registry) -> None:
    agency = await registry.org(pb.ORGANIZATION_KIND_AGENCY, "PD")
    shop, stranger = await registry.org(name="Shop"), await registry.org(name="Stranger")
    await registry.camera(shop, 16, 26)
    await registry.stub(shop, "partner-admin").CreateSharingGrant(
        pb.CreateSharingGrantRequest(
            grant=pb.SharingGrant(grantee_organization_id=agency, all_cameras=True, live=True)
        )
    )

    async def visible(org: str) -> set[str]:
        ids: set[str] = set()
        token = ""
        while True:
            page = await registry.stub(org, "operator").ListOrganizations(
                pb.ListOrganizationsRequest(page_size=2, page_token=token)
            )
            ids |= {o.id for o in page.organizations}
            if not (token := page.next_page_token):
                return ids & {agency, shop, stranger}

    assert await visible(shop) == {agency, shop}
    assert await visible(agency) == {agency, shop}
    assert await visible(stranger) == {agency, stranger}


async def test_audit_records_who_changed_what_for_owner_and_grantee(registry: Registry) -> None:
    shop, police = await registry.org(), await registry.org(pb.ORGANIZATION_KIND_AGENCY)
    admin = registry.stub(shop, "partner-admin", subject="alice@shop")
    camera = await registry.camera(shop, 16, 26)
    patch = pb.Camera(id=camera.id, display_name="Front door", etag=camera.etag)
    await admin.UpdateCamera(
        pb.UpdateCameraRequest(camera=patch, update_mask={"paths": ["display_name"]})
    )
    grant = (
        await admin.CreateSharingGrant(
            pb.CreateSharingGrantRequest(
                grant=pb.SharingGrant(
                    grantee_organization_id=police, camera_ids=[camera.id], live=True
                )
            )
        )
    ).grant
    entries = (await admin.ListAuditEntries(pb.ListAuditEntriesRequest())).entries
    assert [e.action for e in entries] == [
        "grant.create",
        "camera.update",
        "camera.create",
        "organization.create",
    ]
    update = entries[1]
    assert update.actor.subject == "alice@shop" and update.organization_id == shop
    assert update.before["display_name"] == "Gas station pump 3"
    assert update.after["display_name"] == "Front door"
    police_view = (
        await registry.stub(police, "partner-admin").ListAuditEntries(pb.ListAuditEntriesRequest())
    ).entries
    assert [(e.action, e.resource_id) for e in police_view] == [
        ("grant.create", grant.id),
        ("organization.create", police),
    ]
    page = await admin.ListAuditEntries(pb.ListAuditEntriesRequest(page_size=1))
    second = await admin.ListAuditEntries(
        pb.ListAuditEntriesRequest(page_size=1, page_token=page.next_page_token)
    )
    assert [e.action for e in second.entries] == ["camera.update"]


async def test_migration_builds_exactly_the_declared_tables(database: Database) -> None:
    registry_tables = {t.name for t in metadata.sorted_tables if t.name.startswith("registry_")}
    declared = {t.name for t in vars(tables).values() if isinstance(t, sa.Table)}
    assert registry_tables == declared - {"audit_log"}

    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return [d for d in compare_metadata(context, metadata) if "registry_" in repr(d)]

    async with database.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
