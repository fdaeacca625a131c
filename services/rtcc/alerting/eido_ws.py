"""EIDOs by WebSocket subscribe/notify, as NENA-STA-024 (EIDO conveyance) describes.

Alerting is the *subscriber*: it connects to a CAD's notifier (``subscribe_url`` of a
``cad`` source, ws:// or wss://, ``Authorization: Bearer <source secret>``), asks for
every new incident and receives notifications::

    → {"subscribe": {"requestId": "…", "requestType": "EIDO", "requestSubType": "new",
                     "expires": 3600}}
    ← {"subscribeResponse": {"requestId": "…", "statusCode": 200, "subscriptionId": "…"}}
    ← {"notify": {"subscriptionId": "…", "transactionId": "…", "notification": [EIDO…]}}
    → {"notifyResponse": {"transactionId": "…", "statusCode": 200, "statusText": "OK"}}

Each EIDO goes through the same engine as an HTTP POST (idempotent, raw kept); a bad
one is answered with its status code and a sentence, and the subscription goes on.
The loop is supervised: a dropped connection is re-established with backoff.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
import structlog

from rtcc.alerting import eido
from rtcc.alerting.engine import AlertEngine
from rtcc.core.config import AlertSourceSettings
from rtcc.core.errors import RtccError, Unavailable

log = structlog.get_logger("rtcc.alerting.eido_ws")
SUBPROTOCOL = "emergency-incident-data-object-exchange"
_CODES = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "FAILED_PRECONDITION": 409}


async def subscribe(source: AlertSourceSettings, engine: AlertEngine, max_bytes: int) -> None:
    """Hold one subscription until the notifier goes away (then raise, to be restarted)."""
    headers = {"Authorization": f"Bearer {source.secret.get_secret_value()}"}
    request_id = str(uuid.uuid4())
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(
            source.subscribe_url,
            headers=headers,
            protocols=(SUBPROTOCOL,),
            heartbeat=30,
            max_msg_size=max_bytes,
        ) as ws:
            await ws.send_json(
                {
                    "subscribe": {
                        "requestId": request_id,
                        "requestType": "EIDO",
                        "requestSubType": "new",
                        "expires": 3600,
                    }
                }
            )
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                reply = await handle(source, engine, message.data, request_id)
                if reply is not None:
                    await ws.send_json(reply)
    raise Unavailable(f"the EIDO notifier of {source.name} closed the subscription")


async def handle(
    source: AlertSourceSettings, engine: AlertEngine, text: str, request_id: str
) -> dict[str, Any] | None:
    """One message from the notifier; the answer to send back, if any."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        log.warning("eido_ws_bad_message", source=source.name)
        return None
    if not isinstance(body, dict):
        return None
    if "subscribeResponse" in body:
        answer = body["subscribeResponse"] or {}
        code = int(answer.get("statusCode", 0) or 0)
        if not 200 <= code < 300:
            raise Unavailable(
                f"{source.name} refused the EIDO subscription: {code} "
                f"{answer.get('statusText', '')}"
            )
        log.info(
            "eido_ws_subscribed", source=source.name, subscription=answer.get("subscriptionId")
        )
        return None
    notify = body.get("notify")
    if not isinstance(notify, dict):
        return None
    transaction = str(notify.get("transactionId", ""))
    documents = notify.get("notification") or []
    if isinstance(documents, dict):
        documents = [documents]
    code, text_out = 200, "OK"
    for document in documents:
        raw = json.dumps(document, separators=(",", ":")).encode()
        try:
            event = eido.parse_document(source.name, document)
            await engine.report(source, event, raw, "application/json")
        except RtccError as exc:
            code, text_out = _CODES.get(exc.code.name, 500), exc.message
    return {
        "notifyResponse": {"transactionId": transaction, "statusCode": code, "statusText": text_out}
    }
