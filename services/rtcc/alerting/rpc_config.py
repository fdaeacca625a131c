"""AlertingService RPCs that configure it: rules, notification channels, hot lists."""

from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import field_mask_pb2

from rtcc.alerting import convert, hotlist
from rtcc.alerting.config_store import ConfigStore
from rtcc.alerting.hotlist_store import HotlistStore
from rtcc.alerting.operations import ADMIN_ROLES, READ_ROLES
from rtcc.alerting.records import HotlistRecord
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.clients import What
from rtcc.core.auth import Principal, current_principal
from rtcc.core.errors import InvalidArgument, PermissionDenied
from rtcc.core.ids import new_id

MAX_IMPORT_BYTES = 64 * 1024 * 1024


def _check_rule(rule: pb.Rule) -> None:
    if not 1 <= len(rule.display_name) <= 200:
        raise InvalidArgument("display_name must be 1 to 200 characters", field="rule.display_name")
    if rule.WhichOneof("trigger") is None:
        raise InvalidArgument(
            "set one trigger (analytics_event, plate, external_event or correlation)",
            field="rule.trigger",
        )
    if rule.HasField("correlation"):
        c = rule.correlation
        if not c.premise_kinds or not c.condition_kinds:
            raise InvalidArgument(
                "a correlation rule needs premise_kinds and condition_kinds",
                field="rule.correlation",
            )
        if not 0 <= c.radius_meters <= 50_000:
            raise InvalidArgument(
                "correlation.radius_meters must be 0 to 50000",
                field="rule.correlation.radius_meters",
            )


def _check_channel(channel: pb.NotificationChannel) -> None:
    if not 1 <= len(channel.display_name) <= 200:
        raise InvalidArgument(
            "display_name must be 1 to 200 characters",
            field="notification_channel.display_name",
        )
    kind = channel.WhichOneof("destination")
    if kind is None or kind == "sms":
        raise InvalidArgument(
            "set webhook or email (SMS is not supported)",
            field="notification_channel.destination",
        )
    if kind == "webhook" and not channel.webhook.url.startswith(("https://", "http://")):
        raise InvalidArgument(
            "webhook.url must be an http(s) URL", field="notification_channel.webhook.url"
        )
    if kind == "email" and (
        not channel.email.addresses or any("@" not in a for a in channel.email.addresses)
    ):
        raise InvalidArgument(
            "email.addresses must hold e-mail addresses",
            field="notification_channel.email.addresses",
        )


def _rule_cameras(rule: pb.Rule) -> list[str]:
    kind = rule.WhichOneof("trigger")
    if kind == "analytics_event":
        return list(rule.analytics_event.camera_ids)
    if kind == "plate":
        return list(rule.plate.camera_ids)
    return []


def _merged(stored: Any, given: Any, mask: field_mask_pb2.FieldMask, field: str) -> Any:
    """``stored`` with the masked fields of ``given`` (every writable field when unset)."""
    if not mask.paths:
        out = type(given)()
        out.CopyFrom(given)
        return out
    out = type(stored)()
    out.CopyFrom(stored)
    try:
        if not mask.IsValidForDescriptor(given.DESCRIPTOR):
            raise ValueError(", ".join(mask.paths))
        mask.MergeMessage(given, out, replace_message_field=True, replace_repeated_field=True)
    except ValueError as exc:
        raise InvalidArgument(f"update_mask names unknown fields: {exc}", field=field) from None
    return out


class ConfigRpcs:
    config: ConfigStore
    hotlists: HotlistStore
    ops: Any

    async def _require_rule_cameras(self, p: Principal, rule: pb.Rule) -> None:
        """A rule fires on a camera's analytics: its organisation must see them."""
        for camera_id in _rule_cameras(rule):
            decision = await self.ops.clients.access.decide(p, camera_id, What.ANALYTICS)
            if not decision.allowed:
                raise PermissionDenied(
                    f"your organisation may not see the analytics of camera {camera_id}, "
                    "so a rule cannot watch it"
                )

    async def CreateRule(
        self, request: pb.CreateRuleRequest, context: Any
    ) -> pb.CreateRuleResponse:
        p = current_principal()
        p.require_any_role(*ADMIN_ROLES)
        rule = pb.Rule()
        rule.CopyFrom(request.rule)
        _check_rule(rule)
        await self._require_rule_cameras(p, rule)
        rule.id, rule.organization_id = new_id("rul"), p.org_id
        return pb.CreateRuleResponse(rule=await self.config.put_rule(rule, p.subject, create=True))

    async def UpdateRule(
        self, request: pb.UpdateRuleRequest, context: Any
    ) -> pb.UpdateRuleResponse:
        p = current_principal()
        p.require_any_role(*ADMIN_ROLES)
        if not request.rule.id:
            raise InvalidArgument("rule.id names the rule to change", field="rule.id")
        stored = await self.config.get_rule(request.rule.id, p.org_id)
        rule = _merged(stored, request.rule, request.update_mask, "update_mask")
        rule.id, rule.organization_id = stored.id, p.org_id
        _check_rule(rule)
        await self._require_rule_cameras(p, rule)
        updated = await self.config.put_rule(rule, p.subject, etag=request.rule.etag, create=False)
        return pb.UpdateRuleResponse(rule=updated)

    async def GetRule(self, request: pb.GetRuleRequest, context: Any) -> pb.GetRuleResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        return pb.GetRuleResponse(rule=await self.config.get_rule(request.rule_id, p.org_id))

    async def ListRules(self, request: pb.ListRulesRequest, context: Any) -> pb.ListRulesResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        found = await self.config.list_rules(p.org_id, request.enabled_only)
        return pb.ListRulesResponse(rules=found[: request.page_size or 100])

    async def DeleteRule(
        self, request: pb.DeleteRuleRequest, context: Any
    ) -> pb.DeleteRuleResponse:
        p = current_principal()
        p.require_any_role(*ADMIN_ROLES)
        await self.config.delete_rule(request.rule_id, p.org_id, request.etag, p.subject)
        return pb.DeleteRuleResponse()

    async def CreateNotificationChannel(
        self, request: pb.CreateNotificationChannelRequest, context: Any
    ) -> pb.CreateNotificationChannelResponse:
        p = current_principal()
        p.require_any_role(*ADMIN_ROLES)
        channel = pb.NotificationChannel()
        channel.CopyFrom(request.notification_channel)
        _check_channel(channel)
        channel.id, channel.organization_id = new_id("nch"), p.org_id
        stored = await self.config.put_channel(channel, p.subject, create=True)
        return pb.CreateNotificationChannelResponse(notification_channel=stored)

    async def UpdateNotificationChannel(
        self, request: pb.UpdateNotificationChannelRequest, context: Any
    ) -> pb.UpdateNotificationChannelResponse:
        p = current_principal()
        p.require_any_role(*ADMIN_ROLES)
        given = request.notification_channel
        if not given.id:
            raise InvalidArgument(
                "notification_channel.id names the channel to change",
                field="notification_channel.id",
            )
        stored, _ = await self.config.get_channel(given.id, p.org_id)
        channel = _merged(stored, given, request.update_mask, "update_mask")
        channel.id, channel.organization_id = stored.id, p.org_id
        _check_channel(channel)
        updated = await self.config.put_channel(channel, p.subject, etag=given.etag, create=False)
        return pb.UpdateNotificationChannelResponse(notification_channel=updated)

    async def GetNotificationChannel(
        self, request: pb.GetNotificationChannelRequest, context: Any
    ) -> pb.GetNotificationChannelResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        channel, _ = await self.config.get_channel(request.notification_channel_id, p.org_id)
        return pb.GetNotificationChannelResponse(notification_channel=channel)

    async def ListNotificationChannels(
        self, request: pb.ListNotificationChannelsRequest, context: Any
    ) -> pb.ListNotificationChannelsResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        found = await self.config.list_channels(p.org_id)
        return pb.ListNotificationChannelsResponse(notification_channels=found)

    async def DeleteNotificationChannel(
        self, request: pb.DeleteNotificationChannelRequest, context: Any
    ) -> pb.DeleteNotificationChannelResponse:
        p = current_principal()
        p.require_any_role(*ADMIN_ROLES)
        await self.config.delete_channel(
            request.notification_channel_id, p.org_id, request.etag, p.subject
        )
        return pb.DeleteNotificationChannelResponse()

    async def CreateHotlist(
        self, request: pb.CreateHotlistRequest, context: Any
    ) -> pb.CreateHotlistResponse:
        p = current_principal()
        p.require_any_role("partner-admin", "investigator", "service")
        h = request.hotlist
        if not 1 <= len(h.display_name) <= 200:
            raise InvalidArgument(
                "display_name must be 1 to 200 characters", field="hotlist.display_name"
            )
        if not 0 <= h.max_substitutions <= hotlist.MAX_SUBSTITUTIONS:
            raise InvalidArgument(
                "max_substitutions must be 0 to 3", field="hotlist.max_substitutions"
            )
        if h.source_url and not h.source_url.startswith(
            ("file:///", "https://", "http://", "bucket://")
        ):
            raise InvalidArgument(
                "source_url must be file:///, http(s):// or bucket://BUCKET/KEY",
                field="hotlist.source_url",
            )
        record = HotlistRecord(
            new_id("hot"),
            p.org_id,
            h.display_name,
            h.source_url,
            h.delimiter or ";",
            int(h.refresh_interval.seconds),
            int(h.max_age.seconds),
            h.severity or pb.SEVERITY_HIGH,
            h.max_substitutions,
            0,
            None,
            "",
            "",
            0,
            dt.datetime.now(dt.UTC),
        )
        stored = await self.hotlists.create(record, p.subject)
        return pb.CreateHotlistResponse(hotlist=convert.hotlist(stored))

    async def ListHotlists(
        self, request: pb.ListHotlistsRequest, context: Any
    ) -> pb.ListHotlistsResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        found = await self.hotlists.all(p.org_id)
        return pb.ListHotlistsResponse(hotlists=[convert.hotlist(h) for h in found])

    async def ImportHotlist(
        self, request: pb.ImportHotlistRequest, context: Any
    ) -> pb.ImportHotlistResponse:
        p = current_principal()
        p.require_any_role("partner-admin", "investigator", "service")
        record = await self.hotlists.get(request.hotlist_id, p.org_id)
        if len(request.content) > MAX_IMPORT_BYTES:
            raise InvalidArgument("a hot list file is at most 64 MiB", field="content")
        try:
            text = request.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidArgument("the file must be UTF-8 text", field="content") from None
        entries, errors = hotlist.parse(text, request.delimiter or record.delimiter)
        if errors:
            return pb.ImportHotlistResponse(
                hotlist=convert.hotlist(record),
                imported=0,
                errors=[pb.HotlistRowError(line=e.line, message=e.message) for e in errors[:1000]],
            )
        stored = await self.hotlists.replace_entries(
            record.id, entries, p.subject, p.org_id, dt.datetime.now(dt.UTC)
        )
        return pb.ImportHotlistResponse(hotlist=convert.hotlist(stored), imported=len(entries))
