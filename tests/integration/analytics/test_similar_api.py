"""Cross-camera appearance search and vehicle journeys over gRPC, with access and audit."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import grpc
import numpy as np
import pytest
import sqlalchemy as sa
from google.protobuf import duration_pb2, timestamp_pb2

from rtcc.analytics import appearance
from rtcc.analytics.records import EventRecord, PlateReadRecord
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc as pbg
from rtcc.backends.audit import audit_log
from rtcc.backends.database import Database
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import PLATFORM_ORG
from rtcc.registry.v1 import registry_pb2 as rpb
from rtcc.registry.v1 import registry_pb2_grpc as rpbg

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def _look(top: int, bottom: int) -> str:
    """A person in a top of OpenCV hue ``top`` and trousers of hue ``bottom``."""
    patch = np.zeros((80, 40, 3), np.uint8)
    for rows, hue in ((slice(0, 40), top), (slice(40, 80), bottom)):
        patch[rows] = cv2.cvtColor(np.uint8([[[hue, 220, 200]]]), cv2.COLOR_HSV2BGR)[0, 0]
    look = appearance.describe(patch, (0, 0, 40, 80))
    assert look is not None
    return appearance.encode(look)


RED, HALF_RED, BLUE = _look(0, 0), _look(0, 110), _look(110, 110)


async def _org(p: Any) -> str:
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
    return org_id


async def _camera(p: Any, org_id: str, lat: float, lon: float) -> str:
    owner = rpbg.RegistryServiceStub(p.channel(p.token(org_id, ["partner-admin"])))
    camera = rpb.Camera(
        organization_id=org_id,
        display_name=f"cam {lat}",
        location={"latitude": lat, "longitude": lon},
    )
    return (await owner.CreateCamera(rpb.CreateCameraRequest(camera=camera))).camera.id


def _event(camera: str, org: str, when: datetime, look: str | None, lat: float, lon: float,
           cls: int = 1) -> EventRecord:  # fmt: skip
    attributes = {"appearance": look} if look else {}
    return EventRecord(
        f"evt_{secrets.token_hex(8)}", camera, org, 1, cls, "7", 0.9, when, when,
        (0.1, 0.1, 0.2, 0.4), attributes=attributes, latitude=lat, longitude=lon,
    )  # fmt: skip


async def test_similar_appearances_on_nearby_visible_cameras_ranked_and_audited(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, org_b = await _org(p), await _org(p)
        here = await _camera(p, org_a, 42.3300, -83.0400)
        near = await _camera(p, org_a, 42.3350, -83.0400)  # ~560 m north
        far = await _camera(p, org_a, 42.4300, -83.0400)  # ~11 km
        other_org = await _camera(p, org_b, 42.3310, -83.0400)
        source = _event(here, org_a, T0, RED, 42.33, -83.04)
        red_near = _event(near, org_a, T0 + timedelta(minutes=4), RED, 42.335, -83.04)
        half_near = _event(near, org_a, T0 + timedelta(minutes=2), HALF_RED, 42.335, -83.04)
        blue_near = _event(near, org_a, T0 + timedelta(minutes=1), BLUE, 42.335, -83.04)
        late = _event(near, org_a, T0 + timedelta(hours=2), RED, 42.335, -83.04)
        car = _event(near, org_a, T0 + timedelta(minutes=3), RED, 42.335, -83.04, cls=2)
        red_far = _event(far, org_a, T0 + timedelta(minutes=5), RED, 42.43, -83.04)
        hidden = _event(other_org, org_b, T0 + timedelta(minutes=1), RED, 42.331, -83.04)
        bare = _event(here, org_a, T0, None, 42.33, -83.04)
        store = AnalyticsStore(database)
        await store.add_events(
            [source, red_near, half_near, blue_near, late, car, red_far, hidden, bare]
        )
        analyst = pbg.AnalyticsServiceStub(
            p.channel(p.token(org_a, ["investigator"], subject="det@a"))
        )
        reply = await analyst.FindSimilarAppearances(
            pb.FindSimilarAppearancesRequest(
                event_id=source.id, radius_meters=2000, min_similarity=0.3,
                time_window=duration_pb2.Duration(seconds=3600), purpose="case 26-0042",
            )
        )  # fmt: skip
        found = [m.event.id for m in reply.matches]
        assert found == [red_near.id, half_near.id]  # blue is too different
        best = reply.matches[0]
        assert best.similarity > 0.99 and best.time_offset_seconds == 240
        assert 500 < best.distance_meters < 620
        assert reply.matches[1].similarity < best.similarity
        assert reply.source.id == source.id and reply.candidates == 3  # persons on `near`

        strict = await analyst.FindSimilarAppearances(
            pb.FindSimilarAppearancesRequest(event_id=source.id, purpose="case 26-0042")
        )
        assert [m.event.id for m in strict.matches] == [red_near.id]  # default 0.6

        async with database.transaction(readonly=True) as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_log.c.actor_subject, audit_log.c.after).where(
                        audit_log.c.action == "event.similar_search",
                        audit_log.c.resource_id == source.id,
                    )
                )
            ).all()
        assert rows and rows[0].actor_subject == "det@a"
        assert rows[0].after["purpose"] == "case 26-0042"

        for request, code, sentence in (
            (pb.FindSimilarAppearancesRequest(event_id=bare.id, purpose="x"),
             grpc.StatusCode.FAILED_PRECONDITION, "carries no appearance"),
            (pb.FindSimilarAppearancesRequest(event_id=source.id),
             grpc.StatusCode.INVALID_ARGUMENT, "state the purpose"),
            (pb.FindSimilarAppearancesRequest(event_id=source.id, purpose="x",
                                              radius_meters=1e6),
             grpc.StatusCode.INVALID_ARGUMENT, "radius_meters"),
            (pb.FindSimilarAppearancesRequest(
                event_id=source.id, purpose="x",
                time_window=duration_pb2.Duration(seconds=3 * 86400)),
             grpc.StatusCode.INVALID_ARGUMENT, "24 hours"),
            (pb.FindSimilarAppearancesRequest(event_id=hidden.id, purpose="x"),
             grpc.StatusCode.NOT_FOUND, "not visible"),
        ):  # fmt: skip
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await analyst.FindSimilarAppearances(request)
            assert caught.value.code() is code
            assert sentence in (caught.value.details() or "")


def _ts(when: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


async def test_vehicle_journey_in_time_order_on_visible_cameras(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, org_b = await _org(p), await _org(p)
        a1 = await _camera(p, org_a, 42.3300, -83.0400)
        a2 = await _camera(p, org_a, 42.3400, -83.0400)
        b1 = await _camera(p, org_b, 42.3500, -83.0400)
        plate = f"J{secrets.token_hex(3).upper()}"

        def read(camera: str, org: str, minutes: int, lat: float, text: str = plate) -> Any:
            return PlateReadRecord(
                f"plr_{secrets.token_hex(8)}", camera, org, T0 + timedelta(minutes=minutes),
                text, [(c, 0.9) for c in text], 0.9, (0.1, 0.1, 0.1, 0.05),
                latitude=lat, longitude=-83.04,
            )  # fmt: skip

        reads = [
            read(a2, org_a, 10, 42.34), read(a1, org_a, 0, 42.33), read(b1, org_b, 20, 42.35),
            read(a1, org_a, 30, 42.33, plate.replace("0", "O") + "X"),
        ]  # fmt: skip
        await AnalyticsStore(database).add_plate_reads(reads)
        analyst = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["investigator"])))
        window = common_pb2.TimeRange(
            start_time=_ts(T0 - timedelta(hours=1)), end_time=_ts(T0 + timedelta(hours=1))
        )
        reply = await analyst.GetVehicleJourney(
            pb.GetVehicleJourneyRequest(
                plate=f"{plate[:3]} {plate[3:]}", time_range=window, purpose="BOLO 77"
            )
        )
        assert reply.plate == plate
        assert [s.plate_read.camera_id for s in reply.stops] == [a1, a2]  # b1: not visible
        assert reply.stops[0].seconds_from_previous == 0
        assert reply.stops[1].seconds_from_previous == 600
        assert 1000 < reply.stops[1].distance_from_previous_meters < 1200
        assert not reply.truncated
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analyst.GetVehicleJourney(
                pb.GetVehicleJourneyRequest(plate=plate, time_range=window)
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        years = common_pb2.TimeRange(start_time=_ts(T0 - timedelta(days=400)), end_time=_ts(T0))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analyst.GetVehicleJourney(
                pb.GetVehicleJourneyRequest(plate=plate, time_range=years, purpose="x")
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "31 days" in (caught.value.details() or "")
