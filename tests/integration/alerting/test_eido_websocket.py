"""EIDOs by WebSocket subscribe/notify (NENA-STA-024): alerting subscribes to a CAD's
notifier, raises alerts from notifications and answers each with a status code."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.alerting.v1 import alerting_pb2_grpc as apbg
from rtcc.backends.database import Database
from rtcc.core.auth import PLATFORM_ORG
from rtcc.registry.v1 import registry_pb2 as rpb
from rtcc.registry.v1 import registry_pb2_grpc as rpbg

from .conftest import CAD_SECRET, now, poll, source_settings


def _eido(incident: str) -> dict[str, Any]:
    return {
        "incidentComponent": [
            {
                "incidentTrackingIdentifier": incident,
                "incidentTypeCommonRegistryText": ["Robbery"],
                "incidentCommonPriorityNumber": 1,
                "lastUpdateTimeStamp": now().isoformat(),
            }
        ],
        "locationComponent": [{"locationByValue": {"latitude": 41.8781, "longitude": -87.6298}}],
    }


async def test_notifications_raise_alerts_and_bad_ones_are_answered_with_a_code(
    database: Database, platform_factory: Callable[..., Any], request: Any
) -> None:
    responses: list[dict[str, Any]] = []
    subscribed = asyncio.Event()
    auth: list[str] = []

    async def notifier(req: web.Request) -> web.WebSocketResponse:
        auth.append(req.headers.get("Authorization", ""))
        ws = web.WebSocketResponse(protocols=("emergency-incident-data-object-exchange",))
        await ws.prepare(req)
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            body = json.loads(message.data)
            if "subscribe" in body:
                await ws.send_json(
                    {
                        "subscribeResponse": {
                            "requestId": body["subscribe"]["requestId"],
                            "statusCode": 200,
                            "statusText": "OK",
                            "subscriptionId": "sub-1",
                            "expires": 3600,
                        }
                    }
                )
                subscribed.set()
                for n, doc in enumerate([_eido("WS-1"), {"incidentComponent": []}, _eido("WS-2")]):
                    await ws.send_json(
                        {
                            "notify": {
                                "subscriptionId": "sub-1",
                                "transactionId": f"tx-{n}",
                                "notification": [doc],
                            }
                        }
                    )
            elif "notifyResponse" in body:
                responses.append(body["notifyResponse"])
        return ws

    app = web.Application()
    app.router.add_get("/eido", notifier)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    org_id = f"org_{secrets.token_hex(6)}"
    settings = source_settings(org_id)
    settings["sources"][1]["subscribe_url"] = f"ws://127.0.0.1:{port}/eido"
    overrides: dict[str, Any] = {"alerting": settings}
    if database.dialect == "postgresql":
        overrides["bus_url"] = request.getfixturevalue("nats_url")
    try:
        async with platform_factory(
            targets=["registry", "analytics", "alerting"], database=database, **overrides
        ) as p:
            admin = rpbg.RegistryServiceStub(
                p.channel(p.token(PLATFORM_ORG, ["platform-admin"], subject="root@city"))
            )
            await admin.CreateOrganization(
                rpb.CreateOrganizationRequest(
                    organization=rpb.Organization(
                        display_name="PD", kind=rpb.ORGANIZATION_KIND_AGENCY
                    ),
                    organization_id=org_id,
                )
            )
            await asyncio.wait_for(subscribed.wait(), 20)
            alerting = apbg.AlertingServiceStub(p.channel(p.token(org_id, ["operator"])))

            async def both() -> list[Any]:
                listed = await alerting.ListAlerts(pb.ListAlertsRequest())
                found = sorted(a.source_event_id for a in listed.alerts)
                return list(listed.alerts) if found == ["WS-1", "WS-2"] else []

            alerts = await poll(both)
            assert all(a.kind == "cad_incident" for a in alerts)
            await poll(lambda: _ready(responses, 3))
            codes = {r["transactionId"]: r["statusCode"] for r in responses}
            assert codes == {"tx-0": 200, "tx-1": 400, "tx-2": 200}
            assert auth[0] == f"Bearer {CAD_SECRET}"
    finally:
        await runner.cleanup()


async def _ready(items: list[Any], count: int) -> bool:
    return len(items) >= count
