"""Crime analysis over gRPC: hotspots, near repeat, trends; stored, audited, reproducible."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import numpy as np
import pytest
import sqlalchemy as sa
from google.protobuf import timestamp_pb2

from rtcc.analytics.records import EventRecord
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc as pbg
from rtcc.backends.audit import audit_log
from rtcc.backends.database import Database
from rtcc.common.v1 import common_pb2
from rtcc.core.auth import PLATFORM_ORG
from rtcc.registry.v1 import registry_pb2 as rpb
from rtcc.registry.v1 import registry_pb2_grpc as rpbg

END = datetime(2026, 3, 30, tzinfo=UTC)
START = END - timedelta(weeks=9)


def _ts(when: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


def _range(start: datetime = START, end: datetime = END) -> common_pb2.TimeRange:
    return common_pb2.TimeRange(start_time=_ts(start), end_time=_ts(end))


def _incidents(n: int, seed: int = 3) -> list[pb.Incident]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        hot = i % 4 == 0  # a quarter of them in one block
        spread = 0.0006 if hot else 0.02
        lat = (41.89 if hot else 41.88) + float(rng.normal(0, spread))
        lon = (-87.64 if hot else -87.63) + float(rng.normal(0, spread))
        when = START + timedelta(hours=float(rng.uniform(0, 9 * 7 * 24 - 1)))
        out.append(
            pb.Incident(
                id=f"cad-{i}", location=common_pb2.LatLng(latitude=lat, longitude=lon),
                time=_ts(when), area=f"beat{i % 3}", category="burglary",
            )
        )  # fmt: skip
    return out


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
        organization_id=org_id, display_name="Main St",
        location={"latitude": 41.885, "longitude": -87.635},
    )  # fmt: skip
    reply = await owner.CreateCamera(rpb.CreateCameraRequest(camera=camera))
    return org_id, reply.camera.id


async def test_hotspots_are_stored_audited_and_reproducible_byte_for_byte(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, _ = await _org_with_camera(p)
        org_b, _ = await _org_with_camera(p)
        analyst = pbg.AnalyticsServiceStub(
            p.channel(p.token(org_a, ["investigator"], subject="ana@a"))
        )
        given = pb.AnalysisInput(
            time_range=_range(), incidents=_incidents(200), purpose="case 26-0117 briefing"
        )
        request = pb.RunHotspotAnalysisRequest(input=given, cell_m=200, permutations=199)
        first = (await analyst.RunHotspotAnalysis(request)).run
        # The same incidents in another order: the same input hash and result bytes.
        shuffled = pb.AnalysisInput()
        shuffled.CopyFrom(given)
        del shuffled.incidents[:]
        shuffled.incidents.extend(reversed(list(given.incidents)))
        again = (
            await analyst.RunHotspotAnalysis(
                pb.RunHotspotAnalysisRequest(input=shuffled, cell_m=200, permutations=199)
            )
        ).run
        assert first.id != again.id
        assert first.input_sha256 == again.input_sha256
        assert first.result_sha256 == again.result_sha256
        assert first.hotspots.SerializeToString(
            deterministic=True
        ) == again.hotspots.SerializeToString(deterministic=True)
        assert first.hotspots.cells, "the dense block must be a significant hot spot"
        top = first.hotspots.cells[0]
        assert abs(top.center.latitude - 41.89) < 0.003 and top.gi_z > 3
        assert first.parameters["cell_m"] == 200 and first.parameters["seed"] == 12345
        assert first.incident_count == 200 and first.creator == "ana@a"

        stored = (await analyst.GetAnalysisRun(pb.GetAnalysisRunRequest(run_id=first.id))).run
        assert stored == first
        other = pbg.AnalyticsServiceStub(p.channel(p.token(org_b, ["investigator"])))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await other.GetAnalysisRun(pb.GetAnalysisRunRequest(run_id=first.id))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND

        async with database.transaction(readonly=True) as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_log.c.actor_subject, audit_log.c.after).where(
                        audit_log.c.resource_id == first.id
                    )
                )
            ).all()
        runs = [r for r in rows if r.after and r.after.get("purpose")]
        assert runs and runs[0].actor_subject == "ana@a"
        assert runs[0].after["purpose"] == "case 26-0117 briefing"
        assert runs[0].after["input_sha256"] == first.input_sha256


async def test_near_repeat_and_trends_over_incidents_and_visible_events(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, cam_a = await _org_with_camera(p)
        org_b, cam_b = await _org_with_camera(p)
        store = AnalyticsStore(database)
        when = END - timedelta(days=2)
        records = [
            EventRecord(
                f"evt_{secrets.token_hex(8)}", camera, org, 1, 1, str(i), 0.9, when, when,
                (0.1, 0.1, 0.2, 0.2), latitude=41.885, longitude=-87.635,
            )
            for camera, org in ((cam_a, org_a), (cam_b, org_b))
            for i in range(25)
        ]  # fmt: skip
        await store.add_events(records)
        analyst = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["investigator"])))
        given = pb.AnalysisInput(
            time_range=_range(),
            incidents=_incidents(120),
            purpose="weekly CompStat",
            event_types=[pb.EVENT_TYPE_OBJECT_APPEARED],
        )
        trends = (await analyst.RunTrendAnalysis(pb.RunTrendAnalysisRequest(input=given))).run
        # 120 incidents plus the 25 events of org A's own camera; org B's are not visible.
        assert trends.incident_count == 145
        areas = {a.area: a for a in trends.trends.areas}
        assert cam_a in areas and cam_b not in areas
        assert areas[cam_a].current == 25 and areas[cam_a].status == "ABOVE"
        assert len(areas[cam_a].weekly) == 9

        knox = (
            await analyst.RunNearRepeatAnalysis(
                pb.RunNearRepeatAnalysisRequest(input=given, distance_m=300, days=7)
            )
        ).run
        result = knox.near_repeat
        assert result.incidents == 145 and result.permutations == 999
        # The 25 events share one place and day: strongly near-repeat.
        assert result.observed > result.expected and result.p_value <= 0.01


async def test_bad_input_answers_with_the_right_status_and_a_sentence(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, _ = await _org_with_camera(p)
        analyst = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["investigator"])))
        cases = [
            (
                pb.AnalysisInput(time_range=_range(), incidents=_incidents(5), purpose="x"),
                grpc.StatusCode.FAILED_PRECONDITION,
                "needs at least 30 incidents; 5 were found",
            ),
            (
                pb.AnalysisInput(time_range=_range(), incidents=_incidents(50)),
                grpc.StatusCode.INVALID_ARGUMENT,
                "state the purpose",
            ),
            (
                pb.AnalysisInput(
                    time_range=_range(END - timedelta(days=3 * 365), END), purpose="x"
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "at most 366 days",
            ),
            (
                pb.AnalysisInput(
                    time_range=_range(),
                    purpose="x",
                    incidents=[pb.Incident(id="no-place", time=_ts(START))],
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "needs an id and a location",
            ),
            (
                pb.AnalysisInput(
                    time_range=_range(END - timedelta(days=1), END),
                    purpose="x",
                    incidents=_incidents(50),
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
                "outside time_range",
            ),
        ]
        for given, code, sentence in cases:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await analyst.RunHotspotAnalysis(pb.RunHotspotAnalysisRequest(input=given))
            assert caught.value.code() is code, caught.value.details()
            assert sentence in (caught.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analyst.RunHotspotAnalysis(
                pb.RunHotspotAnalysisRequest(
                    input=pb.AnalysisInput(
                        time_range=_range(), incidents=_incidents(50), purpose="x"
                    ),
                    cell_m=1,
                )
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await analyst.GetAnalysisRun(pb.GetAnalysisRunRequest(run_id="anr_../../x"))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_external_events_published_to_alerting_are_analysed_for_their_org(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    from rtcc.alerting.v1 import alerting_pb2 as apb
    from rtcc.alerting.v1 import alerting_pb2_grpc as apbg

    targets = ["registry", "analytics", "alerting"]
    async with platform_factory(targets=targets, database=database) as p:
        org_a, _ = await _org_with_camera(p)
        org_b, _ = await _org_with_camera(p)
        for org, n in ((org_a, 40), (org_b, 7)):
            publisher = apbg.AlertingServiceStub(p.channel(p.token(org, ["partner-admin"])))
            for i, incident in enumerate(_incidents(n, seed=11)):
                await publisher.PublishExternalEvent(
                    apb.PublishExternalEventRequest(
                        external_event=apb.ExternalEvent(
                            source="cad-test", source_event_id=f"{org}-{i}",
                            location=incident.location, event_time=incident.time,
                            summary="burglary",
                        ),
                        idempotency_key=f"{org}-{i}",
                    )
                )  # fmt: skip
        analyst = pbg.AnalyticsServiceStub(p.channel(p.token(org_a, ["investigator"])))
        given = pb.AnalysisInput(
            time_range=_range(), include_external_events=True, purpose="CAD review"
        )
        run = (await analyst.RunHotspotAnalysis(pb.RunHotspotAnalysisRequest(input=given))).run
        assert run.incident_count == 40  # org B's calls are not org A's to analyse
        again = (await analyst.RunHotspotAnalysis(pb.RunHotspotAnalysisRequest(input=given))).run
        assert again.result_sha256 == run.result_sha256
        assert again.input_sha256 == run.input_sha256
