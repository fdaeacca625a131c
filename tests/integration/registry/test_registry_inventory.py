"""Bulk import reports every row; nothing is imported silently or partly by surprise."""

from __future__ import annotations

import json

import grpc
import pytest

from rtcc.registry.v1 import registry_pb2 as pb

from .conftest import Registry, field_of

CREATED = pb.IMPORT_ROW_OUTCOME_CREATED
VALID = pb.IMPORT_ROW_OUTCOME_VALID
REJECTED = pb.IMPORT_ROW_OUTCOME_REJECTED
CSV = pb.INVENTORY_FORMAT_CSV

MIXED = (
    b"external_id,display_name,latitude,longitude,main_url,username,password,tags\n"
    b"S-1,Store front,13.001,23.001,rtsp://10.2.0.1/s,viewer,pa55,retail\n"
    b"S-2,Lot,13.002,195,,,,\n"
    b"S-3,Back door,13.003,23.003,rtsp://10.2.0.3/s,,,\n"
    b"S-1,Again,13.004,23.004,,,,\n"
)


def outcomes(reply: pb.ImportCamerasResponse) -> list[tuple[int, int, str]]:
    return [(r.row, r.outcome, r.field) for r in reply.rows]


async def test_import_creates_the_good_rows_and_reports_each_bad_one(registry: Registry) -> None:
    org = await registry.org()
    admin = registry.stub(org, "partner-admin")
    reply = await admin.ImportCameras(pb.ImportCamerasRequest(format=CSV, content=MIXED))
    assert outcomes(reply) == [
        (1, CREATED, ""),
        (2, REJECTED, "longitude"),
        (3, CREATED, ""),
        (4, REJECTED, "external_id"),
    ]
    assert (reply.created_count, reply.rejected_count) == (2, 2)
    assert reply.rows[1].external_id == "S-2" and "-180 to 180" in reply.rows[1].message
    camera = (await admin.GetCamera(pb.GetCameraRequest(camera_id=reply.rows[0].camera_id))).camera
    assert camera.streams.has_credentials and list(camera.tags) == ["retail"]
    # Importing the same file again duplicates nothing.
    again = await admin.ImportCameras(pb.ImportCamerasRequest(format=CSV, content=MIXED))
    assert again.created_count == 0
    assert [r.field for r in again.rows] == [
        "external_id",
        "longitude",
        "external_id",
        "external_id",
    ]


async def test_all_or_nothing_imports_nothing_when_a_row_is_bad(registry: Registry) -> None:
    org = await registry.org()
    admin = registry.stub(org, "partner-admin")
    reply = await admin.ImportCameras(
        pb.ImportCamerasRequest(format=CSV, content=MIXED, all_or_nothing=True)
    )
    assert [r.outcome for r in reply.rows] == [VALID, REJECTED, VALID, REJECTED]
    assert reply.created_count == 0
    listed = await admin.ListCameras(pb.ListCamerasRequest(organization_id=org))
    assert not listed.cameras


async def test_validate_only_checks_against_existing_cameras_without_importing(
    registry: Registry,
) -> None:
    org = await registry.org()
    admin = registry.stub(org, "partner-admin")
    await registry.camera(org, 13.1, 23.1, external_id="S-3")
    reply = await admin.ImportCameras(
        pb.ImportCamerasRequest(format=CSV, content=MIXED, validate_only=True)
    )
    assert outcomes(reply) == [
        (1, VALID, ""),
        (2, REJECTED, "longitude"),
        (3, REJECTED, "external_id"),
        (4, REJECTED, "external_id"),
    ]
    assert len((await admin.ListCameras(pb.ListCamerasRequest(organization_id=org))).cameras) == 1


async def test_export_reimports_into_another_organisation_without_credentials(
    registry: Registry,
) -> None:
    source, target = await registry.org(), await registry.org()
    await registry.stub(source, "partner-admin").ImportCameras(
        pb.ImportCamerasRequest(format=CSV, content=MIXED)
    )
    for fmt in (CSV, pb.INVENTORY_FORMAT_GEOJSON):
        exported = await registry.stub(source, "partner-admin").ExportCameras(
            pb.ExportCamerasRequest(format=fmt)
        )
        assert exported.camera_count == 2 and b"pa55" not in exported.content
        if fmt == pb.INVENTORY_FORMAT_GEOJSON:
            assert json.loads(exported.content)["type"] == "FeatureCollection"
        reply = await registry.stub(target, "partner-admin").ImportCameras(
            pb.ImportCamerasRequest(format=fmt, content=exported.content, validate_only=True)
        )
        assert [r.outcome for r in reply.rows] == [VALID, VALID]


async def test_file_level_problems_fail_the_call_naming_content(registry: Registry) -> None:
    org = await registry.org()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await registry.stub(org, "partner-admin").ImportCameras(
            pb.ImportCamerasRequest(format=CSV, content=b"name,lat,lon\nx,1,2\n")
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_of(err.value) == "content"
