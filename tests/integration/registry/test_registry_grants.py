"""Sharing grants over gRPC: scope, schedule windows, expiry and revocation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from rtcc.registry import worker
from rtcc.registry.service import build_context
from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry, Stub


async def shop_and_police(registry: Registry) -> tuple[str, str, pb.Camera, Stub, Stub]:
    shop = await registry.org(name="Shop")
    police = await registry.org(pb.ORGANIZATION_KIND_AGENCY, "Police")
    camera = await registry.camera(shop, 11.0, 21.0)
    return (
        shop,
        police,
        camera,
        registry.stub(shop, "partner-admin"),
        registry.stub(police, "operator"),
    )


async def give(admin: Stub, grantee: str, **kw: object) -> pb.SharingGrant:
    grant = pb.SharingGrant(grantee_organization_id=grantee, **kw)  # type: ignore[arg-type]
    return (await admin.CreateSharingGrant(pb.CreateSharingGrantRequest(grant=grant))).grant


async def check(
    stub: Stub, camera: pb.Camera, scope: int = pb.ACCESS_SCOPE_LIVE
) -> pb.CheckCameraAccessResponse:
    return await stub.CheckCameraAccess(
        pb.CheckCameraAccessRequest(camera_id=camera.id, scope=scope)  # type: ignore[arg-type]
    )


def window_around(now: datetime, start_h: float, end_h: float) -> dict[str, object]:
    """A UTC schedule window from now+start_h to now+end_h (may cross midnight)."""
    start, end = now + timedelta(hours=start_h), now + timedelta(hours=end_h)
    return {
        "time_zone": "UTC",
        "windows": [
            {
                "start": {"hours": start.hour, "minutes": start.minute},
                "end": {"hours": end.hour, "minutes": end.minute},
            }
        ],
    }


async def test_live_grant_allows_live_but_not_recorded(registry: Registry) -> None:
    _, police, camera, admin, operator = await shop_and_police(registry)
    grant = await give(admin, police, all_cameras=True, live=True)
    assert grant.state == pb.SHARING_GRANT_STATE_ACTIVE and grant.creator.subject == "user@test"
    live = await check(operator, camera)
    recorded = await check(operator, camera, pb.ACCESS_SCOPE_RECORDED)
    assert live.allowed and live.reason == "grant"
    assert not recorded.allowed and recorded.reason == "scope not granted"
    assert not live.access.HasField("valid_until")


async def test_schedule_opens_video_only_inside_its_window(registry: Registry) -> None:
    _, police, camera, admin, operator = await shop_and_police(registry)
    now = datetime.now(UTC)
    closed = await give(
        admin, police, all_cameras=True, live=True, schedule=window_around(now, 2, 3)
    )
    reply = await check(operator, camera)
    assert not reply.allowed and reply.reason == "outside schedule"
    # The camera stays visible: the RTCC knows it is there and when it opens.
    seen = await operator.GetCamera(pb.GetCameraRequest(camera_id=camera.id))
    assert not seen.camera.caller_access.live
    mask = {"paths": ["schedule"]}
    patch = pb.SharingGrant(id=closed.id, etag=closed.etag, schedule=window_around(now, -1, 1))
    await admin.UpdateSharingGrant(pb.UpdateSharingGrantRequest(grant=patch, update_mask=mask))
    reply = await check(operator, camera)
    assert reply.allowed
    until = reply.access.valid_until.ToDatetime(tzinfo=UTC)
    assert timedelta(minutes=55) < until - now <= timedelta(hours=1, minutes=1)


async def test_expired_grant_gives_nothing_and_is_announced(registry: Registry) -> None:
    _, police, camera, admin, operator = await shop_and_police(registry)
    expire = datetime.now(UTC) + timedelta(seconds=0.4)
    grant = await give(admin, police, camera_ids=[camera.id], recorded=True, expire_time=expire)
    assert (await check(operator, camera, pb.ACCESS_SCOPE_RECORDED)).allowed
    start = (await operator.ListCameras(pb.ListCamerasRequest(page_size=1))).revision
    await asyncio.sleep(max(0.0, (expire - datetime.now(UTC)).total_seconds()) + 0.05)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await operator.GetCamera(pb.GetCameraRequest(camera_id=camera.id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # Another replica's sweeper announces the expiry on the feed.
    ctx = build_context(registry.runtime)
    assert await worker.announce_expiries(ctx) >= 1
    stream = operator.WatchCameras(pb.WatchCamerasRequest(start_revision=start))
    async for change in stream:
        if change.type == pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED and change.grant.id == grant.id:
            assert change.grant.state == pb.SHARING_GRANT_STATE_EXPIRED
            break
    stream.cancel()


async def test_pending_grant_starts_later(registry: Registry) -> None:
    _, police, camera, admin, operator = await shop_and_police(registry)
    start = datetime.now(UTC) + timedelta(hours=1)
    grant = await give(admin, police, all_cameras=True, live=True, start_time=start)
    assert grant.state == pb.SHARING_GRANT_STATE_PENDING
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await check(operator, camera)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_revocation_takes_effect_at_once_and_is_streamed_to_the_grantee(
    registry: Registry,
) -> None:
    _, police, camera, admin, operator = await shop_and_police(registry)
    grant = await give(admin, police, all_cameras=True, live=True, recorded=True)
    start = (await operator.ListCameras(pb.ListCamerasRequest(page_size=1))).revision
    stream = operator.WatchCameras(pb.WatchCamerasRequest(start_revision=start))
    revoked = (
        await admin.RevokeSharingGrant(
            pb.RevokeSharingGrantRequest(
                grant_id=grant.id, reason="contract ended", etag=grant.etag
            )
        )
    ).grant
    assert (
        revoked.state == pb.SHARING_GRANT_STATE_REVOKED
        and revoked.revoke_reason == "contract ended"
    )
    change = await asyncio.wait_for(stream.read(), 5)
    stream.cancel()
    assert change.type == pb.CAMERA_CHANGE_TYPE_ACCESS_CHANGED and change.grant.id == grant.id
    for call in (
        operator.GetCamera(pb.GetCameraRequest(camera_id=camera.id)),
        check(operator, camera),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # A revoked grant is history: it cannot be changed or revoked again.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.RevokeSharingGrant(pb.RevokeSharingGrantRequest(grant_id=grant.id))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    listed = await operator.ListSharingGrants(pb.ListSharingGrantsRequest(show_inactive=True))
    assert grant.id in {g.id for g in listed.grants}
    active = await operator.ListSharingGrants(pb.ListSharingGrantsRequest())
    assert grant.id not in {g.id for g in active.grants}


async def test_grant_names_only_the_grantors_own_cameras(registry: Registry) -> None:
    _, police, _, admin, _ = await shop_and_police(registry)
    other = await registry.org()
    foreign = await registry.camera(other, 11.0, 21.0)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await give(admin, police, camera_ids=[foreign.id], live=True)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "grant.camera_ids[0]" in (err.value.details() or "")


async def test_services_check_access_on_behalf_of_an_organisation(registry: Registry) -> None:
    _, police, camera, admin, _ = await shop_and_police(registry)
    playback = registry.service("playback")
    request = pb.CheckCameraAccessRequest(
        camera_id=camera.id, scope=pb.ACCESS_SCOPE_RECORDED, organization_id=police
    )
    assert not (await playback.CheckCameraAccess(request)).allowed
    await give(admin, police, camera_ids=[camera.id], recorded=True)
    reply = await playback.CheckCameraAccess(request)
    assert reply.allowed and not reply.access.live and len(reply.access.grant_ids) == 1
