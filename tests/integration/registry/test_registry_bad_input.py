"""Bad input gets the right status and a message (and detail) naming the field."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
import pytest

from rtcc.common.v1 import common_pb2
from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry, Stub, field_of, make_camera

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def fails(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


async def create(stub: Stub, camera: pb.Camera) -> pb.Camera:
    return (await stub.CreateCamera(pb.CreateCameraRequest(camera=camera))).camera


def _mask(*points: tuple[float, float]) -> Callable[[pb.Camera], None]:
    return lambda c: c.privacy_masks.add().vertices.extend(
        common_pb2.ImagePoint(x=x, y=y) for x, y in points
    )


def _set(**fields: object) -> Callable[[pb.Camera], None]:
    return lambda c: c.MergeFrom(pb.Camera(**fields))  # type: ignore[arg-type]


def _location(lat: float, lon: float) -> Callable[[pb.Camera], None]:
    return lambda c: c.location.CopyFrom(common_pb2.LatLng(latitude=lat, longitude=lon))


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (_location(-91, 1), "camera.location.latitude"),
        (_location(1, 200), "camera.location.longitude"),
        (_set(streams={"main_url": "rtsp//broken"}), "camera.streams.main_url"),
        (_set(streams={"main_url": "rtsp://u:p@10.0.0.1/s"}), "camera.streams.main_url"),
        (_mask((0.1, 0.1), (0.5, 0.5)), "camera.privacy_masks[0]"),
        (_mask((0, 0), (1, 1), (1, 0), (0, 1)), "camera.privacy_masks[0]"),
        (lambda c: c.ClearField("display_name"), "camera.display_name"),
    ],
)
async def test_invalid_camera_is_refused_naming_the_field(
    registry: Registry, spoil: Callable[[pb.Camera], None], field: str
) -> None:
    org = await registry.org()
    camera = make_camera(org, 14, 24)
    spoil(camera)
    error = await fails(create(registry.stub(org, "partner-admin"), camera))
    assert error.code() == INVALID
    assert field_of(error) == field and field in (error.details() or "")


async def test_unknown_organisation_is_not_found_naming_the_field(registry: Registry) -> None:
    admin = registry.admin
    error = await fails(create(admin, make_camera("org_doesnotexist", 14, 24)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "camera.organization_id" in (error.details() or "")


async def test_duplicate_camera_is_already_exists(registry: Registry) -> None:
    org = await registry.org()
    admin = registry.stub(org, "partner-admin")
    await create(admin, make_camera(org, 14, 24, external_id="P-1"))
    await create(admin, make_camera(org, 14, 24, streams={"main_url": "rtsp://10.3.0.1/s"}))
    for duplicate, field in (
        (make_camera(org, 14, 24, external_id="P-1"), "camera.external_id"),
        (
            make_camera(org, 14, 24, streams={"main_url": "rtsp://10.3.0.1/s"}),
            "camera.streams.main_url",
        ),
    ):
        error = await fails(create(admin, duplicate))
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS
        assert field in (error.details() or "")
    # Another organisation may use the same asset tag.
    other = await registry.org()
    await create(
        registry.stub(other, "partner-admin"), make_camera(other, 14, 24, external_id="P-1")
    )


async def test_grant_to_oneself_is_invalid_naming_the_grantee(registry: Registry) -> None:
    org = await registry.org()
    grant = pb.SharingGrant(grantee_organization_id=org, all_cameras=True, live=True)
    error = await fails(
        registry.stub(org, "partner-admin").CreateSharingGrant(
            pb.CreateSharingGrantRequest(grant=grant)
        )
    )
    assert error.code() == INVALID and field_of(error) == "grant.grantee_organization_id"


async def test_grant_to_an_unknown_organisation_is_not_found(registry: Registry) -> None:
    org = await registry.org()
    grant = pb.SharingGrant(grantee_organization_id="org_nobody", all_cameras=True, live=True)
    error = await fails(
        registry.stub(org, "partner-admin").CreateSharingGrant(
            pb.CreateSharingGrantRequest(grant=grant)
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "grant.grantee_organization_id" in (error.details() or "")


async def test_lost_update_is_a_failed_precondition(registry: Registry) -> None:
    org = await registry.org()
    camera = await registry.camera(org, 14, 24)
    alice, bob = (
        registry.stub(org, "partner-admin", subject="alice"),
        registry.stub(org, "partner-admin", subject="bob"),
    )
    mask = {"paths": ["display_name"]}

    def rename(stub: Stub, name: str) -> Awaitable[pb.UpdateCameraResponse]:
        patch = pb.Camera(id=camera.id, display_name=name, etag=camera.etag)
        return stub.UpdateCamera(pb.UpdateCameraRequest(camera=patch, update_mask=mask))

    results = await asyncio.gather(rename(alice, "A"), rename(bob, "B"), return_exceptions=True)
    errors = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(errors) == 1 and errors[0].code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "camera.etag" in (errors[0].details() or "")
    winner = next(r for r in results if isinstance(r, pb.UpdateCameraResponse))
    assert int(winner.camera.etag) > int(camera.etag)
    stale = pb.DeleteCameraRequest(camera_id=camera.id, etag=camera.etag)
    assert (await fails(alice.DeleteCamera(stale))).code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (
            pb.SearchCamerasNearbyRequest(
                location={"latitude": 1, "longitude": 1}, radius_meters=0
            ),
            "radius_meters",
        ),
        (
            pb.SearchCamerasNearbyRequest(
                location={"latitude": 1, "longitude": 1}, radius_meters=60_000
            ),
            "radius_meters",
        ),
        (pb.SearchCamerasNearbyRequest(radius_meters=10), "location"),
        (
            pb.SearchCamerasNearbyRequest(
                location={"latitude": 95, "longitude": 1}, radius_meters=10
            ),
            "location.latitude",
        ),
        (pb.ListCamerasRequest(page_token="not-a-token"), "page_token"),
        (pb.ListCamerasRequest(page_size=-1), "page_size"),
        (pb.GetCameraRequest(camera_id="12"), "camera_id"),
    ],
)
async def test_bad_query_arguments_name_the_field(
    registry: Registry, request_: object, field: str
) -> None:
    stub = registry.stub("org_anyone", "operator")
    method = {
        pb.SearchCamerasNearbyRequest: stub.SearchCamerasNearby,
        pb.ListCamerasRequest: stub.ListCameras,
        pb.GetCameraRequest: stub.GetCamera,
    }[type(request_)]
    error = await fails(method(request_))
    assert error.code() == INVALID and field_of(error) == field


async def test_update_mask_must_name_changeable_fields(registry: Registry) -> None:
    org = await registry.org()
    camera = await registry.camera(org, 14, 24)
    admin = registry.stub(org, "partner-admin")
    for paths in ([], ["organization_id"], ["health"]):
        request = pb.UpdateCameraRequest(
            camera=pb.Camera(id=camera.id), update_mask={"paths": paths}
        )
        error = await fails(admin.UpdateCamera(request))
        assert error.code() == INVALID and field_of(error) == "update_mask"


async def test_unknown_camera_is_not_found(registry: Registry) -> None:
    org = await registry.org()
    error = await fails(
        registry.stub(org, "operator").GetCamera(pb.GetCameraRequest(camera_id="cam_missing000"))
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
