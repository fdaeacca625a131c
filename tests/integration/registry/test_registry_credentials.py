"""Stream credentials: encrypted at rest, read only by ingest, never returned or logged."""

from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa

from rtcc.backends.database import Database
from rtcc.registry.tables import cameras, changes
from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry

PASSWORD = "Tr0ub4dor&3-unique-registry"


async def test_credentials_reach_ingest_only_and_nowhere_else(
    registry: Registry, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    org = await registry.org()
    admin = registry.stub(org, "partner-admin")
    police = await registry.org(pb.ORGANIZATION_KIND_AGENCY)
    created = await registry.camera(
        org,
        15,
        25,
        streams={
            "main_url": "rtsp://10.4.0.1/main",
            "sub_url": "rtsp://10.4.0.1/sub",
            "credentials": {"username": "viewer", "password": PASSWORD},
        },
    )
    assert created.streams.has_credentials and not created.streams.HasField("credentials")
    await admin.CreateSharingGrant(
        pb.CreateSharingGrantRequest(
            grant=pb.SharingGrant(grantee_organization_id=police, all_cameras=True, live=True)
        )
    )
    seen = [created.SerializeToString()]
    seen.append(
        (await admin.GetCamera(pb.GetCameraRequest(camera_id=created.id))).SerializeToString()
    )
    seen.append(
        (await admin.ListCameras(pb.ListCamerasRequest(organization_id=org))).SerializeToString()
    )
    seen.append(
        (
            await registry.stub(police, "operator").ListCameras(pb.ListCamerasRequest())
        ).SerializeToString()
    )
    seen.append(
        (
            await admin.ExportCameras(pb.ExportCamerasRequest(format=pb.INVENTORY_FORMAT_CSV))
        ).SerializeToString()
    )
    seen.append((await admin.ListAuditEntries(pb.ListAuditEntriesRequest())).SerializeToString())
    stream = registry.service("analytics").WatchCameras(
        pb.WatchCamerasRequest(start_revision=int(created.etag) - 1)
    )
    seen.append((await stream.read()).SerializeToString())
    stream.cancel()
    assert not any(PASSWORD.encode() in blob for blob in seen)

    reply = await registry.service("ingest").GetCameraStreamCredentials(
        pb.GetCameraStreamCredentialsRequest(camera_id=created.id)
    )
    assert (reply.main_url, reply.sub_url) == ("rtsp://10.4.0.1/main", "rtsp://10.4.0.1/sub")
    assert (reply.credentials.username, reply.credentials.password) == ("viewer", PASSWORD)
    for other in (registry.service("playback"), admin, registry.admin):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await other.GetCameraStreamCredentials(
                pb.GetCameraStreamCredentialsRequest(camera_id=created.id)
            )
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async with database.transaction(readonly=True) as conn:
        row = (await conn.execute(sa.select(cameras).where(cameras.c.id == created.id))).one()
        feed = (await conn.execute(sa.select(changes.c.payload))).scalars().all()
        audit = await conn.exec_driver_sql("SELECT before, after FROM audit_log")
        audit_text = str(audit.all())
    assert row.credentials and PASSWORD.encode() not in row.credentials
    assert PASSWORD.encode() not in row.spec
    assert not any(p and PASSWORD.encode() in p for p in feed)
    assert PASSWORD not in audit_text
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err


async def test_credentials_are_kept_replaced_or_removed_by_update(registry: Registry) -> None:
    org = await registry.org()
    admin = registry.stub(org, "partner-admin")
    ingest = registry.service("ingest")
    created = await registry.camera(
        org,
        15,
        25,
        streams={
            "main_url": "rtsp://10.4.0.2/s",
            "credentials": {"username": "a", "password": "1"},
        },
    )

    async def update(camera: pb.Camera, *paths: str) -> pb.Camera:
        request = pb.UpdateCameraRequest(camera=camera, update_mask={"paths": list(paths)})
        return (await admin.UpdateCamera(request)).camera

    async def stored() -> tuple[str, str]:
        reply = await ingest.GetCameraStreamCredentials(
            pb.GetCameraStreamCredentialsRequest(camera_id=created.id)
        )
        return reply.credentials.username, reply.credentials.password

    moved = await update(
        pb.Camera(id=created.id, streams={"main_url": "rtsp://10.4.0.3/s"}), "streams"
    )
    assert moved.streams.has_credentials and await stored() == ("a", "1")
    rotated = await update(
        pb.Camera(id=created.id, streams={"credentials": {"username": "b", "password": "2"}}),
        "streams.credentials",
    )
    assert rotated.streams.main_url == "rtsp://10.4.0.3/s" and await stored() == ("b", "2")
    removed = await update(pb.Camera(id=created.id), "streams.credentials")
    assert not removed.streams.has_credentials and await stored() == ("", "")
    audit = await admin.ListAuditEntries(
        pb.ListAuditEntriesRequest(resource_type="camera", resource_id=created.id)
    )
    assert [e.action for e in audit.entries] == ["camera.update"] * 3 + ["camera.create"]
    assert audit.entries[0].after["credentials_changed"] is True
