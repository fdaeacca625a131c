"""WatchCameras: every change, in order, resumable from any revision without loss."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry, Stub, make_camera

CREATED = pb.CAMERA_CHANGE_TYPE_CREATED
UPDATED = pb.CAMERA_CHANGE_TYPE_UPDATED
DELETED = pb.CAMERA_CHANGE_TYPE_DELETED
HEALTH = pb.CAMERA_CHANGE_TYPE_HEALTH_CHANGED


async def take(stub: Stub, start: int, count: int) -> list[pb.WatchCamerasResponse]:
    """The first `count` changes after `start`, then hang up."""
    stream = stub.WatchCameras(pb.WatchCamerasRequest(start_revision=start))
    out = []
    try:
        while len(out) < count:
            out.append(await asyncio.wait_for(stream.read(), 5))
    finally:
        stream.cancel()
    return out


async def changes_of_one_camera(registry: Registry, org: str) -> list[tuple[int, str]]:
    admin = registry.stub(org, "partner-admin")
    created = (
        await admin.CreateCamera(pb.CreateCameraRequest(camera=make_camera(org, 12, 22)))
    ).camera
    patch = pb.Camera(id=created.id, display_name="renamed", etag=created.etag)
    await admin.UpdateCamera(
        pb.UpdateCameraRequest(camera=patch, update_mask={"paths": ["display_name"]})
    )
    report = pb.CameraHealthReport(
        camera_id=created.id, health={"status": pb.CAMERA_STATUS_OFFLINE}
    )
    ingest = registry.service("ingest")
    await ingest.ReportCameraHealth(pb.ReportCameraHealthRequest(reports=[report]))
    # The same status again is not a change.
    await ingest.ReportCameraHealth(pb.ReportCameraHealthRequest(reports=[report]))
    await admin.DeleteCamera(pb.DeleteCameraRequest(camera_id=created.id))
    return [
        (CREATED, created.id),
        (UPDATED, created.id),
        (HEALTH, created.id),
        (DELETED, created.id),
    ]


async def test_watch_resumes_from_the_last_revision_without_loss_or_repeat(
    registry: Registry,
) -> None:
    org = await registry.org()
    reader = registry.stub(org, "analyst")
    start = (await reader.ListCameras(pb.ListCamerasRequest(page_size=1))).revision
    expected = []
    for _ in range(3):
        expected += await changes_of_one_camera(registry, org)
    first = await take(reader, start, 5)
    rest = await take(reader, first[-1].revision, len(expected) - 5)
    got = first + rest
    assert [(c.type, c.camera_id) for c in got] == expected
    revisions = [c.revision for c in got]
    assert revisions == sorted(set(revisions)) and revisions[0] > start
    assert got[1].camera.display_name == "renamed"
    assert got[2].camera.health.status == pb.CAMERA_STATUS_OFFLINE
    assert not got[3].HasField("camera") and got[3].organization_id == org


async def test_watch_sees_concurrent_writers_in_commit_order(registry: Registry) -> None:
    org = await registry.org()
    admin = registry.stub(org, "partner-admin")
    start = (await admin.ListCameras(pb.ListCamerasRequest(page_size=1))).revision
    watcher = asyncio.ensure_future(take(admin, start, 24))

    async def create(i: int) -> str:
        camera = make_camera(org, 12 + i / 1000, 22, display_name=f"cam {i}")
        return (await admin.CreateCamera(pb.CreateCameraRequest(camera=camera))).camera.id

    ids = await asyncio.gather(*(create(i) for i in range(24)))
    got = await watcher
    assert sorted(c.camera_id for c in got) == sorted(ids)
    assert [c.revision for c in got] == sorted(c.revision for c in got)
    assert all(int(c.camera.etag) == c.revision for c in got)


async def test_watchers_see_only_their_cameras_and_their_grants(registry: Registry) -> None:
    shop, other, police = await registry.org(), await registry.org(), await registry.org()
    watchers = {
        name: registry.stub(org, "operator")
        for name, org in (("shop", shop), ("other", other), ("police", police))
    }
    start = (await watchers["shop"].ListCameras(pb.ListCamerasRequest(page_size=1))).revision
    mine = await registry.camera(shop, 12.5, 22.5, streams={"main_url": "rtsp://10.9.0.1/s"})
    await registry.camera(other, 12.5, 22.5)
    grant = pb.SharingGrant(grantee_organization_id=police, camera_ids=[mine.id], live=True)
    await registry.stub(shop, "partner-admin").CreateSharingGrant(
        pb.CreateSharingGrantRequest(grant=grant)
    )
    await registry.camera(other, 12.5, 22.6)  # a marker the other watcher sees last
    ingest = registry.service("ingest")
    everything = await take(ingest, start, 4)
    assert [c.type for c in everything] == [
        CREATED,
        CREATED,
        pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED,
        CREATED,
    ]
    shop_view = await take(watchers["shop"], start, 2)
    assert [c.type for c in shop_view] == [CREATED, pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED]
    assert shop_view[0].camera.streams.main_url == "rtsp://10.9.0.1/s"
    other_view = await take(watchers["other"], start, 2)
    assert all(c.organization_id == other for c in other_view)
    # Changes are filtered by access when delivered: the police, granted the camera
    # since, also learn of its creation.
    police_view = await take(watchers["police"], start, 2)
    assert [(c.type, c.camera_id) for c in police_view] == [
        (CREATED, mine.id),
        (pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED, ""),
    ]
    assert police_view[1].grant.grantee_organization_id == police
    assert police_view[0].camera.streams.main_url == ""  # grantees never see addresses


async def test_resume_point_ahead_of_the_registry_is_refused(registry: Registry) -> None:
    org = await registry.org()
    reader = registry.stub(org, "operator")
    current = (await reader.ListCameras(pb.ListCamerasRequest(page_size=1))).revision
    stream = reader.WatchCameras(pb.WatchCamerasRequest(start_revision=current + 1000))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stream.read()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
