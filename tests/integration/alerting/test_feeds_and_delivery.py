"""Time-driven checks (heartbeat gaps, escalation), streams resuming from a cursor,
e-mail through a real SMTP server (mailpit) and webhooks retried until delivered."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web

from rtcc.alerting import signing
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.backends.database import Database

from .conftest import gunshot_xml, now, poll


async def test_a_heartbeat_gap_raises_a_system_alert_that_closes_when_beats_resume(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        worker = block.alerting.worker
        start = block.alerting.watch.started
        await worker.tick(start + timedelta(seconds=60))  # within the 120 s promise
        assert not [a for a in (await block.stub().ListAlerts(pb.ListAlertsRequest())).alerts]
        await worker.tick(start + timedelta(seconds=121))
        await worker.tick(start + timedelta(seconds=300))  # once per silence
        silent = [
            a
            for a in (await block.stub().ListAlerts(pb.ListAlertsRequest())).alerts
            if a.kind == "feed_silent"
        ]
        assert len(silent) == 1 and "shotspotter feed silent" in silent[0].title
        status, _ = await block.post(
            "shotspotter", b"<Heartbeat><Time>2026-01-31T22:15:00Z</Time></Heartbeat>"
        )
        assert status == 200
        alert = (await block.stub().GetAlert(pb.GetAlertRequest(alert_id=silent[0].id))).alert
        assert alert.state == pb.ALERT_STATE_RESOLVED
        assert "heartbeats resumed" in alert.notes[-1].text


async def test_unacknowledged_alerts_escalate_and_lifecycle_is_audited(
    database: Database, city_block: Any
) -> None:
    async with city_block(database, escalate_after_s=60) as block:
        status, body = await block.post("cad", _detector_like(), content_type="application/json")
        assert status == 201
        alert_id = body["alert_id"]
        worker = block.alerting.worker
        created = (await block.stub().GetAlert(pb.GetAlertRequest(alert_id=alert_id))).alert
        t0 = created.create_time.ToDatetime().replace(tzinfo=now().tzinfo)
        assert not await worker.escalate(t0 + timedelta(seconds=30))
        (escalated,) = await worker.escalate(t0 + timedelta(seconds=61))
        assert escalated.escalation_level == 1 and escalated.severity == created.severity + 1
        stub = block.stub()
        acked = await stub.AcknowledgeAlert(pb.AcknowledgeAlertRequest(alert_id=alert_id))
        assert not await worker.escalate(t0 + timedelta(seconds=200))
        assigned = await stub.AssignAlert(
            pb.AssignAlertRequest(alert_id=alert_id, unit="1-Adam-12", etag=acked.alert.etag)
        )
        assert assigned.alert.state == pb.ALERT_STATE_ASSIGNED
        dismissed = await stub.DismissAlert(
            pb.DismissAlertRequest(alert_id=alert_id, reason="caller withdrew")
        )
        assert dismissed.alert.state == pb.ALERT_STATE_DISMISSED
        import sqlalchemy as sa

        query = sa.text("SELECT action FROM audit_log WHERE resource_id = :id ORDER BY id")
        async with database.transaction(readonly=True) as conn:
            actions = [r[0] for r in (await conn.execute(query, {"id": alert_id})).all()]
        assert actions == [
            "alert.create",
            "alert.escalate",
            "alert.acknowledge",
            "alert.assign",
            "alert.dismiss",
        ]


def _detector_like() -> bytes:
    import json

    return json.dumps(
        {
            "incidentComponent": [
                {
                    "incidentTrackingIdentifier": "INC-ESC",
                    "incidentTypeCommonRegistryText": ["Burglary"],
                    "incidentCommonPriorityNumber": 3,
                    "lastUpdateTimeStamp": now().isoformat(),
                }
            ],
            "locationComponent": [
                {"locationByValue": {"latitude": 41.8781, "longitude": -87.6298}}
            ],
        }
    ).encode()


async def test_stream_resumes_from_its_cursor_without_losing_alerts(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        stub = block.stub()
        call = stub.StreamAlerts(pb.StreamAlertsRequest())
        first_task = asyncio.ensure_future(call.read())
        await asyncio.sleep(0)  # the stream is open before the first alert; polled below
        await poll(lambda: _post_ok(block, "SS-S1"))
        first = await asyncio.wait_for(first_task, 20)
        assert first.change == pb.ALERT_CHANGE_CREATED and first.alert.source_event_id == "SS-S1"
        call.cancel()
        for incident in ("SS-S2", "SS-S3"):  # while disconnected
            assert await _post_ok(block, incident)
        resumed = stub.StreamAlerts(pb.StreamAlertsRequest(after_sequence=first.sequence))
        got = [await asyncio.wait_for(resumed.read(), 20) for _ in range(2)]
        resumed.cancel()
        assert [m.alert.source_event_id for m in got] == ["SS-S2", "SS-S3"]
        assert got[0].sequence > first.sequence and got[1].sequence > got[0].sequence


async def _post_ok(block: Any, incident: str) -> bool:
    status, _ = await block.post("shotspotter", gunshot_xml(incident, 1, now()))
    return status in (200, 201)


async def test_email_arrives_through_smtp_and_webhooks_are_retried(
    database: Database, city_block: Any, mailpit: Any
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    attempts = {"n": 0}

    async def hook(request: web.Request) -> web.Response:
        attempts["n"] += 1
        if attempts["n"] < 3:
            return web.Response(status=503)
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    smtp = f"{mailpit.smtp_host}:{mailpit.smtp_port}"
    try:
        async with city_block(database, smtp_server=smtp, delivery_backoff_s=0.05) as block:
            admin = block.stub(("partner-admin",))
            await admin.CreateNotificationChannel(
                pb.CreateNotificationChannelRequest(
                    notification_channel=pb.NotificationChannel(
                        display_name="Watch desk",
                        enabled=True,
                        min_severity=pb.SEVERITY_HIGH,
                        email=pb.EmailChannel(addresses=["watch@city.example"]),
                    )
                )
            )
            await admin.CreateNotificationChannel(
                pb.CreateNotificationChannelRequest(
                    notification_channel=pb.NotificationChannel(
                        display_name="CAD bridge",
                        enabled=True,
                        webhook=pb.WebhookChannel(
                            url=f"http://127.0.0.1:{port}/hook", secret="hook-secret-123456"
                        ),
                    )
                )
            )
            status, body = await block.post("shotspotter", gunshot_xml("SS-MAIL", 1, now()))
            assert status == 201

            async def mail() -> Any:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"{mailpit.api_url}/api/v1/messages") as resp:
                        found = await resp.json()
                return [
                    m
                    for m in found["messages"]
                    if body["alert_id"] in m["Snippet"] or "Multiple gunshots" in m["Subject"]
                ]

            (message,) = await poll(mail)
            assert message["To"][0]["Address"] == "watch@city.example"
            assert message["Subject"].startswith("[RTCC CRITICAL] Multiple gunshots")
            await poll(lambda: _true(received))
            headers, payload = received[0]
            stamp = int(headers[signing.TIMESTAMP_HEADER])
            assert headers[signing.SIGNATURE_HEADER] == signing.sign(
                "hook-secret-123456", stamp, payload
            )
            assert attempts["n"] == 3 and body["alert_id"].encode() in payload
    finally:
        await runner.cleanup()


async def _true(items: list[Any]) -> bool:
    return bool(items)
