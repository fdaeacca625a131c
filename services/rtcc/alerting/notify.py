"""Notification delivery: the outbox rows written with alert changes, sent with retries.

E-mail goes through the configured SMTP server (stdlib ``smtplib`` in a thread);
webhooks are JSON POSTs signed with the channel's secret (``X-RTCC-Signature``, the
same HMAC scheme the sources use). A failed attempt is retried with exponential
backoff up to ``delivery_attempts``; the outcome stays on the outbox row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import smtplib
import time
from email.message import EmailMessage
from typing import Any

import aiohttp
import sqlalchemy as sa
import structlog

from rtcc.alerting import convert, signing
from rtcc.alerting.config_store import ConfigStore
from rtcc.alerting.records import AlertRecord
from rtcc.alerting.store import AlertStore
from rtcc.alerting.tables import deliveries
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.core.config import AlertingSettings
from rtcc.core.errors import NotFound, Unavailable

log = structlog.get_logger("rtcc.alerting.notify")
_D = deliveries.c
SEVERITY_WORDS = {1: "low", 2: "medium", 3: "high", 4: "CRITICAL"}


def email_message(alert: AlertRecord, sender: str, to: list[str], console: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[RTCC {SEVERITY_WORDS.get(alert.severity, '')}] {alert.title}"
    message["From"], message["To"] = sender, ", ".join(to)
    where = f"{alert.latitude:.5f},{alert.longitude:.5f}" if alert.latitude is not None else "-"
    cams = ", ".join(c["camera_id"] for c in (alert.correlation.get("cameras") or [])[:5])
    message.set_content(
        f"{alert.title}\n\nAlert {alert.id} ({alert.kind}) at {where}\n"
        f"Time: {alert.first_trigger_time.isoformat()}\nCameras: {cams or 'none'}\n"
        f"Console: {console}/#alerts/{alert.id}\n"
    )
    return message


def send_email(server: str, message: EmailMessage) -> None:
    host, _, port = server.rpartition(":")
    with smtplib.SMTP(host, int(port), timeout=10) as smtp:
        smtp.send_message(message)


class Notifier:
    def __init__(
        self,
        db: Any,
        store: AlertStore,
        config: ConfigStore,
        settings: AlertingSettings,
        console_url: str,
    ) -> None:
        self.db, self.store, self.config = db, store, config
        self.settings, self.console_url = settings, console_url

    async def deliver_due(self, now: dt.datetime) -> int:
        """Attempt every due delivery once; returns how many were delivered."""
        query = (
            sa.select(deliveries)
            .where(_D.state == "pending", _D.next_attempt_time <= now)
            .order_by(_D.next_attempt_time)
            .limit(100)
        )
        async with self.db.transaction(readonly=True) as conn:
            due = (await conn.execute(query)).all()
        done = 0
        for row in due:
            error = ""
            try:
                await self.send(row.channel_id, row.alert_id)
            except Exception as exc:  # every failure is recorded on the row and retried
                error = str(exc)[:1000] or type(exc).__name__
            attempts = row.attempts + 1
            if not error:
                state, done = "delivered", done + 1
            else:
                state = "failed" if attempts >= self.settings.delivery_attempts else "pending"
                log.warning(
                    "delivery_failed", channel_id=row.channel_id, attempt=attempts, error=error
                )
            backoff = self.settings.delivery_backoff_s * 2 ** (attempts - 1)
            async with self.db.transaction() as conn:
                await conn.execute(
                    deliveries.update()
                    .where(_D.id == row.id)
                    .values(
                        attempts=attempts,
                        state=state,
                        last_error=error,
                        next_attempt_time=now + dt.timedelta(seconds=backoff),
                    )
                )
        return done

    async def send(self, channel_id: str, alert_id: str) -> None:
        try:
            channel, secret = await self.config.get_channel(channel_id, None)
        except NotFound:
            return  # deleted channel: nothing to deliver
        alert = await self.store.get(alert_id, None)
        await self.send_to(channel, secret, alert)

    async def send_to(
        self, channel: pb.NotificationChannel, secret: str, alert: AlertRecord
    ) -> None:
        if channel.HasField("email"):
            if not self.settings.smtp_server:
                raise Unavailable("no SMTP server is configured (alerting.smtp_server)")
            message = email_message(
                alert, self.settings.smtp_from, list(channel.email.addresses), self.console_url
            )
            await asyncio.to_thread(send_email, self.settings.smtp_server, message)
        elif channel.HasField("webhook"):
            body = json.dumps({"alert": convert.alert_json(alert)}).encode()
            stamp = int(time.time())
            headers = {"Content-Type": "application/json", signing.TIMESTAMP_HEADER: str(stamp)}
            if secret:
                headers[signing.SIGNATURE_HEADER] = signing.sign(secret, stamp, body)
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(channel.webhook.url, data=body, headers=headers) as resp:
                    if resp.status >= 300:
                        raise Unavailable(f"the webhook answered HTTP {resp.status}")
        else:
            raise Unavailable("this channel's destination is not supported")
