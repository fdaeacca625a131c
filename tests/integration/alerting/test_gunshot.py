"""A gunshot near the cameras: one alert (and one only after updates) with the cameras
that see the spot ranked first, the recent plate reads and the history; held
recordings survive a retention run; bad input is refused and the feed keeps working."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.backends.database import Database
from rtcc.ingest import tables as ingest_tables
from rtcc.ingest.retention import Retention
from rtcc.ingest.segment import BUCKET

from .conftest import BILLION, Block, gunshot_xml, now


async def _prior_alert(block: Block) -> str:
    """An alert at the spot two days ago (history)."""
    admin = block.stub(("partner-admin",))
    event = pb.ExternalEvent(
        source="alarm-co",
        source_event_id="old-1",
        summary="Panic alarm",
        type=pb.EXTERNAL_EVENT_TYPE_ALARM,
    )
    event.location.latitude, event.location.longitude = 41.8781, -87.6298
    event.event_time.FromDatetime(now() - timedelta(days=2))
    reply = await admin.PublishExternalEvent(
        pb.PublishExternalEventRequest(external_event=event, idempotency_key="alarm-co:old-1")
    )
    return str(reply.alert_ids[0])


async def test_gunshot_yields_one_alert_with_ranked_cameras_reads_history_and_holds(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        t = now()
        prior = await _prior_alert(block)
        near_read = await block.plate_read("north_facing_away", "7KX123", t - timedelta(minutes=2))
        await block.plate_read("far_away", "FAR999", t - timedelta(minutes=2))
        await block.plate_read("north_facing_away", "OLD111", t - timedelta(hours=3))

        status, body = await block.post("shotspotter", gunshot_xml("SS-1", 1, t))
        assert status == 201, body
        alert_id = body["alert_id"]
        assert len(body["raw_sha256"]) == 64

        stub = block.stub()
        alert = (await stub.GetAlert(pb.GetAlertRequest(alert_id=alert_id))).alert
        assert alert.kind == "gunshot" and alert.severity == pb.SEVERITY_CRITICAL
        assert alert.state == pb.ALERT_STATE_OPEN and alert.source_event_id == "SS-1"
        ctx = await stub.GetAlertContext(
            pb.GetAlertContextRequest(alert_id=alert_id, purpose="shots fired, checking plates")
        )
        names = [c.display_name for c in ctx.nearby_cameras]
        assert names == ["west_facing_east", "south_facing_north", "north_facing_away"]
        assert [c.in_field_of_view for c in ctx.nearby_cameras] == [True, True, False]
        assert (
            ctx.nearby_cameras[0].live_url == f"/whep/cameras/{block.cameras['west_facing_east']}"
        )
        assert "start=" in ctx.nearby_cameras[0].recording_url
        assert ctx.nearby_cameras[0].live_available and ctx.nearby_cameras[0].recorded_available
        assert [r.id for r in ctx.recent_plate_reads] == [near_read]
        assert [a.id for a in ctx.prior_alerts] == [prior]
        assert {h.camera_id for h in ctx.holds} == set(block.cameras.values()) - {
            block.cameras["far_away"]
        }
        audit = sa.text("SELECT after FROM audit_log WHERE action = 'plate.search'")
        async with database.transaction(readonly=True) as conn:
            purposes = [row[0] for row in (await conn.execute(audit)).all()]
        assert any("shots fired" in str(p) for p in purposes)

        # Updates reclassify and move the incident: still one alert, context gathered again.
        status, body = await block.post(
            "shotspotter", gunshot_xml("SS-1", 2, t, north=-40, kind="Single Gunshot", rounds=1)
        )
        assert status == 201 and body["alert_id"] == alert_id
        status, again = await block.post("shotspotter", gunshot_xml("SS-1", 2, t, north=-40))
        assert status == 200 and again["duplicate"] and again["alert_id"] == alert_id
        listed = await stub.ListAlerts(pb.ListAlertsRequest())
        gunshots = [a for a in listed.alerts if a.kind == "gunshot"]
        assert [a.id for a in gunshots] == [alert_id]
        moved = gunshots[0]
        assert moved.location.latitude < 41.8781 and "Single gunshot" in moved.title
        assert moved.trigger_count == 2
        assert any("location revised" in n.text for n in moved.notes)

        # An update older than what was applied is kept but refused.
        await block.post("shotspotter", gunshot_xml("SS-1", 5, t, north=-40))
        status, body = await block.post("shotspotter", gunshot_xml("SS-1", 4, t))
        assert status == 409 and "out of order" in body["error"]


async def test_held_recordings_survive_a_retention_run(database: Database, city_block: Any) -> None:
    async with city_block(database) as block:
        t = now() - timedelta(days=40)
        status, body = await block.post("shotspotter", gunshot_xml("SS-old", 1, now()))
        assert status == 201
        holds = await block.stub().ListRecordingHolds(
            pb.ListRecordingHoldsRequest(alert_id=body["alert_id"], active_only=True)
        )
        held = {h.camera_id: h for h in holds.holds}
        cam_in, cam_out = block.cameras["west_facing_east"], block.cameras["far_away"]
        assert cam_in in held and cam_out not in held
        hold = held[cam_in]
        start = hold.start_time.ToDatetime().replace(tzinfo=now().tzinfo) + timedelta(minutes=1)
        objects = block.p.platform.runtime.objects
        await objects.ensure_bucket(BUCKET)
        rows = []
        for cam, begin in ((cam_in, start), (cam_out, start), (cam_in, t)):
            key = f"{cam}/{begin.timestamp():.0f}.mp4"
            await objects.put(BUCKET, key, b"segment", content_type="video/mp4")
            rows.append(
                {
                    "id": f"seg_{len(rows)}_{cam}",
                    "camera_id": cam,
                    "stream": 0,
                    "start_time": begin,
                    "end_time": begin + timedelta(seconds=10),
                    "object_key": key,
                    "content_type": "video/mp4",
                    "size_bytes": 7,
                    "sha256": "0" * 64,
                    "video_codec": "h264",
                    "width": 1,
                    "height": 1,
                    "frame_rate": 1.0,
                    "discontinuity": False,
                    "create_time": begin,
                    "expire_time": now() - timedelta(days=1),
                }
            )
        async with database.transaction() as conn:
            await conn.execute(ingest_tables.segments.insert(), rows)
        retention = Retention(database, objects)
        run = await retention.execute(await retention.start("test", now()))
        assert run.segments_held == 1 and run.segments_deleted == 2
        seg = ingest_tables.segments.c
        async with database.transaction(readonly=True) as conn:
            left = (
                await conn.execute(
                    sa.select(seg.camera_id).where(seg.id.in_([r["id"] for r in rows]))
                )
            ).all()
        assert [r.camera_id for r in left] == [cam_in]

        # Only an authorised person (or the evidence service) releases it, with a reason.
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await block.stub(("operator",)).ReleaseRecordingHold(
                pb.ReleaseRecordingHoldRequest(hold_id=hold.id, reason="done")
            )
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        released = await block.stub(("investigator",)).ReleaseRecordingHold(
            pb.ReleaseRecordingHoldRequest(hold_id=hold.id, reason="no evidence needed")
        )
        assert released.hold.release_reason == "no evidence needed"
        assert released.hold.released_by.subject == "op@city"


async def test_bad_input_is_refused_clearly_and_the_feed_keeps_working(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        t = now()
        good = gunshot_xml("SS-9", 1, t)
        cases = [
            (
                await block.post("shotspotter", good, secret="not-the-secret-of-this-feed"),
                401,
                "signature",
            ),
            (await block.post("shotspotter", good, stamp=int(t.timestamp()) - 3600), 401, "replay"),
            (await block.post("shotspotter", b"<Incident><ID>1"), 400, "well-formed"),
            (await block.post("shotspotter", BILLION), 400, "DTD"),
            (await block.post("shotspotter", b"<a>" + b"x" * 70_000 + b"</a>"), 400, "bytes"),
            (
                await block.post("shotspotter", gunshot_xml("SS-far", 1, t, north=900_000)),
                400,
                "outside the area",
            ),
            (await block.post("cad", b"{oops", content_type="application/json"), 400, "JSON"),
            (await block.post("nosuch", good), 404, "no alert source"),
        ]
        for (status, body), want_status, words in cases:
            assert status == want_status, body
            assert words in body["error"]
        status, body = await block.post("shotspotter", good)
        assert status == 201 and body["alert_id"]


async def test_context_shows_only_cameras_the_organisation_may_see(
    database: Database, city_block: Any
) -> None:
    import secrets

    from rtcc.core.auth import PLATFORM_ORG
    from rtcc.registry.v1 import registry_pb2 as rpb
    from rtcc.registry.v1 import registry_pb2_grpc as rpbg

    from .conftest import offset

    async with city_block(database) as block:
        p = block.p
        admin = rpbg.RegistryServiceStub(
            p.channel(p.token(PLATFORM_ORG, ["platform-admin"], subject="root@city"))
        )
        partners = {}
        for name in ("unshared", "shared"):
            org = f"org_{secrets.token_hex(6)}"
            await admin.CreateOrganization(
                rpb.CreateOrganizationRequest(
                    organization=rpb.Organization(
                        display_name=name, kind=rpb.ORGANIZATION_KIND_PARTNER_BUSINESS
                    ),
                    organization_id=org,
                )
            )
            owner = rpbg.RegistryServiceStub(p.channel(p.token(org, ["partner-admin"])))
            lat, lon = offset(10, 10)
            await owner.CreateCamera(
                rpb.CreateCameraRequest(
                    camera=rpb.Camera(
                        organization_id=org,
                        display_name=f"{name} store",
                        location={"latitude": lat, "longitude": lon},
                    )
                )
            )
            partners[name] = (org, owner)
        org, owner = partners["shared"]
        await owner.CreateSharingGrant(
            rpb.CreateSharingGrantRequest(
                grant=rpb.SharingGrant(
                    grantor_organization_id=org,
                    grantee_organization_id=block.org_id,
                    all_cameras=True,
                    live=True,
                )
            )
        )
        status, body = await block.post("shotspotter", gunshot_xml("SS-ACL", 1, now()))
        assert status == 201
        ctx = await block.stub().GetAlertContext(
            pb.GetAlertContextRequest(alert_id=body["alert_id"])
        )
        by_name = {c.display_name: c for c in ctx.nearby_cameras}
        assert "unshared store" not in by_name
        shared = by_name["shared store"]
        assert shared.live_available and not shared.recorded_available


async def test_duplicates_merge_into_one_alert(database: Database, city_block: Any) -> None:
    async with city_block(database) as block:
        t = now()
        ids = []
        for incident in ("SS-D1", "SS-D2"):
            status, body = await block.post("shotspotter", gunshot_xml(incident, 1, t))
            assert status == 201
            ids.append(body["alert_id"])
        stub = block.stub()
        merged = await stub.MergeAlerts(
            pb.MergeAlertsRequest(alert_id=ids[0], duplicate_alert_ids=[ids[1]])
        )
        assert merged.alert.trigger_count == 2
        dup = (await stub.GetAlert(pb.GetAlertRequest(alert_id=ids[1]))).alert
        assert dup.state == pb.ALERT_STATE_RESOLVED and dup.merged_into_alert_id == ids[0]
        assert dup.outcome == pb.RESOLUTION_OUTCOME_DUPLICATE
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.MergeAlerts(pb.MergeAlertsRequest(alert_id=ids[0]))
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
