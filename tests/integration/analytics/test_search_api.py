"""The analytics search API over gRPC, with the registry deciding who sees which camera."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import timestamp_pb2

from rtcc.analytics.records import EventRecord, PlateReadRecord
from rtcc.analytics.sink import BUCKET
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc as pbg
from rtcc.backends.audit import audit_log
from rtcc.backends.database import Database
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import PLATFORM_ORG
from rtcc.registry.v1 import registry_pb2 as rpb
from rtcc.registry.v1 import registry_pb2_grpc as rpbg

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def _range() -> common_pb2.TimeRange:
    start, end = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
    start.FromDatetime(T0 - timedelta(hours=1))
    end.FromDatetime(T0 + timedelta(hours=1))
    return common_pb2.TimeRange(start_time=start, end_time=end)


async def _org_with_camera(p: Any) -> tuple[str, str]:
    admin = rpbg.RegistryServiceStub(
        p.channel(p.token(PLATFORM_ORG, ["platform-admin"], subject="root@city"))
    )
    org_id = f"org_{secrets.token_hex(6)}"
    await admin.CreateOrganization(
        rpb.CreateOrganizationRequest(
            organization=rpb.Organization(display_name="Org", kind=rpb.ORGANIZATION_KIND_AGENCY),
            organization_id=org_id,
        )
    )
    owner = rpbg.RegistryServiceStub(p.channel(p.token(org_id, ["partner-admin"])))
    camera = rpb.Camera(
        organization_id=org_id,
        display_name="Main St",
        location={"latitude": 42.33, "longitude": -83.04},
    )
    reply = await owner.CreateCamera(rpb.CreateCameraRequest(camera=camera))
    return org_id, reply.camera.id


async def _seed(
    db: Database, camera_id: str, org_id: str, snapshot: bytes = b"", objects: Any = None
) -> tuple[str, str]:
    event_id, read_id = f"evt_{secrets.token_hex(8)}", f"plr_{secrets.token_hex(8)}"
    store = AnalyticsStore(db)
    key = f"{camera_id}/{event_id}.jpg" if snapshot else ""
    if snapshot:
        await objects.ensure_bucket(BUCKET)
        await objects.put(BUCKET, key, snapshot, content_type="image/jpeg")
    await store.add_plate_reads(
        [
            PlateReadRecord(
                read_id, camera_id, org_id, T0, "7KX123", [(c, 0.9) for c in "7KX123"], 0.9,
                (0.1, 0.1, 0.1, 0.05), event_id=event_id,
            )
        ]
    )  # fmt: skip
    await store.add_events(
        [
            EventRecord(
                event_id, camera_id, org_id, 6, 2, "1", 0.9, T0, T0, (0.1, 0.1, 0.3, 0.3),
                primary_color=5, plate_read_id=read_id, snapshot_key=key,
            )
        ]
    )  # fmt: skip
    return event_id, read_id


async def test_search_returns_only_cameras_the_caller_may_see(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, cam_a = await _org_with_camera(p)
        org_b, cam_b = await _org_with_camera(p)
        event_a, _ = await _seed(database, cam_a, org_a)
        event_b, read_b = await _seed(database, cam_b, org_b)
        analytics = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["investigator"])))

        reply = await analytics.SearchPlateReads(
            pb.SearchPlateReadsRequest(
                query="7KX 123", match_mode=pb.PLATE_MATCH_MODE_FUZZY, time_range=_range()
            )
        )
        assert [m.plate_read.camera_id for m in reply.matches] == [cam_a]
        assert [c.character for c in reply.matches[0].plate_read.characters] == list("7KX123")

        events = await analytics.SearchEvents(
            pb.SearchEventsRequest(
                time_range=_range(), attributes=pb.AttributeFilter(colors=[pb.COLOR_RED])
            )
        )
        assert [e.id for e in events.events] == [event_a]
        listed = await analytics.ListEvents(
            pb.ListEventsRequest(camera_ids=[cam_b], time_range=_range())
        )
        assert list(listed.events) == []
        for call in (
            analytics.GetEvent(pb.GetEventRequest(event_id=event_b)),
            analytics.GetPlateRead(pb.GetPlateReadRequest(plate_read_id=read_b)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call
            assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_bad_queries_and_unbuilt_methods_answer_clearly(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, _ = await _org_with_camera(p)
        analytics = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["investigator"])))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analytics.SearchPlateReads(
                pb.SearchPlateReadsRequest(
                    query="*?*?*", match_mode=pb.PLATE_MATCH_MODE_WILDCARD, time_range=_range()
                )
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "pattern" in (caught.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analytics.SearchEvents(
                pb.SearchEventsRequest(
                    time_range=_range(), attributes=pb.AttributeFilter(vehicle_makes=["Toyota"])
                )
            )
        assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_snapshot_url_serves_the_image_and_is_audited(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, cam_a = await _org_with_camera(p)
        org_b, cam_b = await _org_with_camera(p)
        objects = p.platform.runtime.objects
        event_a, _ = await _seed(database, cam_a, org_a, b"\xff\xd8jpeg", objects)
        event_b, _ = await _seed(database, cam_b, org_b, b"\xff\xd8jpeg", objects)
        analytics = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["investigator"])))
        reply = await analytics.GetSnapshotUrl(pb.GetSnapshotUrlRequest(event_id=event_a))
        assert reply.content_type == "image/jpeg" and reply.url
        # With http_listen on port 0 the platform's public URL names port 0 (a core
        # limitation with ephemeral ports); aim at the port actually bound.
        assert p.platform.http is not None
        url = reply.url.replace("127.0.0.1:0/", f"127.0.0.1:{p.platform.http.port}/")
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
            assert await response.read() == b"\xff\xd8jpeg"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analytics.GetSnapshotUrl(pb.GetSnapshotUrlRequest(event_id=event_b))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND
        async with database.transaction(readonly=True) as conn:
            audited = await conn.execute(
                sa.select(audit_log.c.actor_org_id).where(audit_log.c.resource_id == event_a)
            )
            assert [r[0] for r in audited] == [org_a]
