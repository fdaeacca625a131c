"""Analytics events from the bus raise alerts by rule; triggers at one camera within
the rule's window join one alert."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.analytics.events import BUS_SUBJECT
from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.backends.database import Database

from .conftest import now, poll


async def test_zone_intrusion_events_raise_one_alert_per_camera_and_window(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        admin = block.stub(("partner-admin",))
        rule = pb.Rule(
            display_name="Depot intrusion",
            enabled=True,
            severity=pb.SEVERITY_HIGH,
            analytics_event=pb.AnalyticsEventTrigger(
                types=[apb.EVENT_TYPE_ZONE_ENTERED],
                classes=[apb.OBJECT_CLASS_PERSON],
                zone_ids=["depot"],
            ),
        )
        created = (await admin.CreateRule(pb.CreateRuleRequest(rule=rule))).rule
        bus = block.p.platform.runtime.bus
        camera = block.cameras["west_facing_east"]
        for zone in ("depot", "depot", "parking"):
            event = apb.Event(
                id=f"evt_{secrets.token_hex(6)}",
                camera_id=camera,
                organization_id=block.org_id,
                type=apb.EVENT_TYPE_ZONE_ENTERED,
                object_class=apb.OBJECT_CLASS_PERSON,
                zone_id=zone,
                confidence=0.9,
            )
            event.event_time.FromDatetime(now())
            event.location.latitude, event.location.longitude = 41.8781, -87.6298
            await bus.publish(BUS_SUBJECT, event.SerializeToString(), msg_id=event.id)

        async def alerts() -> list[Any]:
            listed = await block.stub().ListAlerts(pb.ListAlertsRequest(rule_id=created.id))
            found = list(listed.alerts)
            return found if found and found[0].trigger_count == 2 else []

        (alert,) = await poll(alerts)
        assert alert.kind == "analytics_event" and alert.severity == pb.SEVERITY_HIGH
        assert alert.title == "Depot intrusion: person entered zone depot"
        assert [t.camera_id for t in alert.triggers] == [camera, camera]
        assert alert.correlation.camera_count >= 2


async def test_a_camera_going_offline_raises_an_alert_closed_when_it_is_back(
    database: Database, city_block: Any
) -> None:
    from rtcc.registry.v1 import registry_pb2 as rpb
    from rtcc.registry.v1 import registry_pb2_grpc as rpbg

    async with city_block(database) as block:
        p = block.p
        ingest = rpbg.RegistryServiceStub(
            p.channel(p.platform.runtime.authority.service_token("ingest", timedelta(minutes=5)))
        )
        camera = block.cameras["north_facing_away"]

        async def report(status: int, detail: str = "") -> None:
            health = rpb.CameraHealth(status=status, detail=detail)  # type: ignore[arg-type]
            health.report_time.FromDatetime(now())
            await ingest.ReportCameraHealth(
                rpb.ReportCameraHealthRequest(
                    reports=[rpb.CameraHealthReport(camera_id=camera, health=health)]
                )
            )

        async def offline() -> list[Any]:
            listed = await block.stub().ListAlerts(pb.ListAlertsRequest())
            return [a for a in listed.alerts if a.kind == "camera_offline"]

        await report(rpb.CAMERA_STATUS_ONLINE)
        await report(rpb.CAMERA_STATUS_OFFLINE, "connection refused")
        (alert,) = await poll(offline)
        assert alert.title == "Camera north_facing_away offline (connection refused)"
        await report(rpb.CAMERA_STATUS_ONLINE)

        async def closed() -> bool:
            got = await block.stub().GetAlert(pb.GetAlertRequest(alert_id=alert.id))
            return got.alert.state == pb.ALERT_STATE_RESOLVED

        assert await poll(closed)


async def test_a_rule_is_updated_by_mask_and_a_stale_etag_is_refused(
    database: Database, city_block: Any
) -> None:
    import grpc
    import pytest
    from google.protobuf import field_mask_pb2

    async with city_block(database) as block:
        admin = block.stub(("partner-admin",))
        rule = pb.Rule(
            display_name="Depot intrusion",
            enabled=True,
            severity=pb.SEVERITY_HIGH,
            analytics_event=pb.AnalyticsEventTrigger(types=[apb.EVENT_TYPE_ZONE_ENTERED]),
        )
        created = (await admin.CreateRule(pb.CreateRuleRequest(rule=rule))).rule
        change = pb.Rule(id=created.id, etag=created.etag, display_name="Depot (night)")
        mask = field_mask_pb2.FieldMask(paths=["display_name"])
        updated = (await admin.UpdateRule(pb.UpdateRuleRequest(rule=change, update_mask=mask))).rule
        assert updated.display_name == "Depot (night)"
        assert updated.severity == pb.SEVERITY_HIGH and updated.enabled
        assert updated.etag != created.etag
        with pytest.raises(grpc.aio.AioRpcError) as stale:
            await admin.UpdateRule(pb.UpdateRuleRequest(rule=change, update_mask=mask))
        assert stale.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        bad = field_mask_pb2.FieldMask(paths=["no_such_field"])
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await admin.UpdateRule(pb.UpdateRuleRequest(rule=change, update_mask=bad))
        assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        operator = block.stub(("operator",))
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await operator.UpdateRule(pb.UpdateRuleRequest(rule=change, update_mask=mask))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_analytics_event_delivered_again_is_not_counted_twice(
    database: Database, city_block: Any
) -> None:
    # The bus delivers a message again when a replica stopped after raising the alert
    # but before acknowledging it; the alert must not count that trigger twice.
    async with city_block(database) as block:
        admin = block.stub(("partner-admin",))
        rule = pb.Rule(
            display_name="Person seen",
            enabled=True,
            analytics_event=pb.AnalyticsEventTrigger(types=[apb.EVENT_TYPE_OBJECT_APPEARED]),
        )
        created = (await admin.CreateRule(pb.CreateRuleRequest(rule=rule))).rule
        camera = block.cameras["west_facing_east"]

        def event() -> apb.Event:
            out = apb.Event(
                id=f"evt_{secrets.token_hex(6)}",
                camera_id=camera,
                organization_id=block.org_id,
                type=apb.EVENT_TYPE_OBJECT_APPEARED,
                object_class=apb.OBJECT_CLASS_PERSON,
                confidence=0.9,
            )
            out.event_time.FromDatetime(now())
            return out

        worker = block.alerting.worker
        first, second = event(), event()
        for delivered in (first, first, second, first, second):
            await worker.on_event(delivered)
        listed = await block.stub().ListAlerts(pb.ListAlertsRequest(rule_id=created.id))
        (alert,) = listed.alerts
        assert alert.trigger_count == 2
        assert sorted(t.event_id for t in alert.triggers) == sorted([first.id, second.id])
