"""Alert rules and notification channels, stored as their serialised protos."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import sqlalchemy as sa

from rtcc.alerting.tables import channels, rules
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.backends.database import Database
from rtcc.core.errors import FailedPrecondition, NotFound

_R, _C = rules.c, channels.c


def _rule(row: Any) -> pb.Rule:
    rule = pb.Rule.FromString(row.spec)
    rule.id, rule.organization_id, rule.etag = row.id, row.organization_id, row.etag
    rule.creator.subject, rule.creator.organization_id = row.creator, row.organization_id
    rule.create_time.FromDatetime(row.create_time)
    rule.update_time.FromDatetime(row.update_time)
    return rule


def _channel(row: Any) -> tuple[pb.NotificationChannel, str]:
    channel = pb.NotificationChannel.FromString(row.spec)
    channel.id, channel.organization_id, channel.etag = row.id, row.organization_id, row.etag
    channel.create_time.FromDatetime(row.create_time)
    channel.update_time.FromDatetime(row.update_time)
    if channel.HasField("webhook"):
        channel.webhook.has_secret = bool(row.secret)
    return channel, str(row.secret)


def _spec_of_rule(rule: pb.Rule) -> bytes:
    spec = pb.Rule()
    spec.CopyFrom(rule)
    for name in ("id", "organization_id", "etag", "creator", "create_time", "update_time"):
        spec.ClearField(name)
    return spec.SerializeToString(deterministic=True)


class ConfigStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- rules ------------------------------------------------------------------------
    async def put_rule(
        self, rule: pb.Rule, subject: str, *, etag: str = "", create: bool
    ) -> pb.Rule:
        now = dt.datetime.now(dt.UTC)
        new_etag = secrets.token_hex(8)
        values = {
            "display_name": rule.display_name,
            "enabled": rule.enabled,
            "spec": _spec_of_rule(rule),
            "update_time": now,
            "etag": new_etag,
        }
        async with self.db.transaction() as conn:
            if create:
                await conn.execute(
                    rules.insert().values(
                        id=rule.id,
                        organization_id=rule.organization_id,
                        creator=subject,
                        create_time=now,
                        **values,
                    )
                )
            else:
                await self._check(conn, rules, rule.id, rule.organization_id, etag, "rule")
                await conn.execute(rules.update().where(_R.id == rule.id).values(**values))
            await append_audit(
                conn,
                AuditEntry(
                    subject,
                    rule.organization_id,
                    "rule.create" if create else "rule.update",
                    "rule",
                    rule.id,
                    None,
                    {"display_name": rule.display_name},
                ),
            )
        return await self.get_rule(rule.id, rule.organization_id)

    async def _check(
        self, conn: Any, table: sa.Table, rid: str, org_id: str, etag: str, kind: str
    ) -> Any:
        row = (
            await conn.execute(
                sa.select(table)
                .where(table.c.id == rid, table.c.organization_id == org_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound(f"{kind} {rid!r} does not exist or is not yours")
        if etag and etag != row.etag:
            raise FailedPrecondition(f"{kind} {rid} changed since you read it (stale etag)")
        return row

    async def get_rule(self, rule_id: str, org_id: str) -> pb.Rule:
        query = sa.select(rules).where(_R.id == rule_id, _R.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"rule {rule_id!r} does not exist or is not yours")
        return _rule(row)

    async def list_rules(self, org_id: str | None, enabled_only: bool = False) -> list[pb.Rule]:
        query = sa.select(rules).order_by(_R.display_name, _R.id)
        if org_id is not None:
            query = query.where(_R.organization_id == org_id)
        if enabled_only:
            query = query.where(_R.enabled.is_(True))
        async with self.db.transaction(readonly=True) as conn:
            return [_rule(r) for r in (await conn.execute(query)).all()]

    async def delete_rule(self, rule_id: str, org_id: str, etag: str, subject: str) -> None:
        async with self.db.transaction() as conn:
            await self._check(conn, rules, rule_id, org_id, etag, "rule")
            await conn.execute(rules.delete().where(_R.id == rule_id))
            await append_audit(conn, AuditEntry(subject, org_id, "rule.delete", "rule", rule_id))

    # -- channels -----------------------------------------------------------------------
    async def put_channel(
        self, channel: pb.NotificationChannel, subject: str, *, etag: str = "", create: bool
    ) -> pb.NotificationChannel:
        now = dt.datetime.now(dt.UTC)
        spec = pb.NotificationChannel()
        spec.CopyFrom(channel)
        secret = spec.webhook.secret if spec.HasField("webhook") else ""
        if spec.HasField("webhook"):
            spec.webhook.secret = ""
            spec.webhook.has_secret = False
        for name in ("id", "organization_id", "etag", "create_time", "update_time"):
            spec.ClearField(name)
        values: dict[str, Any] = {
            "display_name": channel.display_name,
            "enabled": channel.enabled,
            "spec": spec.SerializeToString(deterministic=True),
            "update_time": now,
            "etag": secrets.token_hex(8),
        }
        async with self.db.transaction() as conn:
            if create:
                await conn.execute(
                    channels.insert().values(
                        id=channel.id,
                        organization_id=channel.organization_id,
                        secret=secret,
                        create_time=now,
                        **values,
                    )
                )
            else:
                row = await self._check(
                    conn, channels, channel.id, channel.organization_id, etag, "channel"
                )
                values["secret"] = secret or row.secret
                await conn.execute(channels.update().where(_C.id == channel.id).values(**values))
            await append_audit(
                conn,
                AuditEntry(
                    subject,
                    channel.organization_id,
                    "channel.create" if create else "channel.update",
                    "notification_channel",
                    channel.id,
                    None,
                    {"display_name": channel.display_name},
                ),
            )
        return (await self.get_channel(channel.id, channel.organization_id))[0]

    async def get_channel(
        self, channel_id: str, org_id: str | None
    ) -> tuple[pb.NotificationChannel, str]:
        query = sa.select(channels).where(_C.id == channel_id)
        if org_id is not None:
            query = query.where(_C.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"notification channel {channel_id!r} does not exist or is not yours")
        return _channel(row)

    async def list_channels(self, org_id: str | None) -> list[pb.NotificationChannel]:
        query = sa.select(channels).order_by(_C.display_name, _C.id)
        if org_id is not None:
            query = query.where(_C.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            return [_channel(r)[0] for r in (await conn.execute(query)).all()]

    async def delete_channel(self, channel_id: str, org_id: str, etag: str, subject: str) -> None:
        async with self.db.transaction() as conn:
            await self._check(conn, channels, channel_id, org_id, etag, "channel")
            await conn.execute(channels.delete().where(_C.id == channel_id))
            await append_audit(
                conn,
                AuditEntry(subject, org_id, "channel.delete", "notification_channel", channel_id),
            )
