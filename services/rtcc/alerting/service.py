"""The ``alerting`` target: AlertingService over gRPC, the source and console HTTP
routes, and the background loops (feed watch, escalation, notifications, analytics
events and hot lists).

The servicer is thin: roles and input are checked here, the work is in ``engine``
(alerts from reports), ``operations`` (lifecycle, context) and the stores. Rules and
channels are served by ``rpc_config``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import grpc
from pydantic import SecretStr

from rtcc.alerting import convert
from rtcc.alerting import incoming as inc
from rtcc.alerting.config_store import ConfigStore
from rtcc.alerting.context import Correlator
from rtcc.alerting.engine import AlertEngine, NewAlert
from rtcc.alerting.feeds import FeedWatch, Intake
from rtcc.alerting.holds import HoldStore
from rtcc.alerting.hotlist_store import HotlistCache, HotlistStore
from rtcc.alerting.http_api import AlertingHttp
from rtcc.alerting.notify import Notifier
from rtcc.alerting.operations import ADMIN_ROLES, READ_ROLES, AlertOperations, scope
from rtcc.alerting.records import AlertRecord
from rtcc.alerting.rpc_config import ConfigRpcs
from rtcc.alerting.store import AlertFilter, AlertStore
from rtcc.alerting.streaming import AlertFeed
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.alerting.v1 import alerting_pb2_grpc
from rtcc.alerting.worker import AlertingWorker
from rtcc.clients import Caller, for_service
from rtcc.common.time import optional_datetime, to_datetime
from rtcc.core.auth import current_principal
from rtcc.core.errors import InvalidArgument
from rtcc.core.runtime import Runtime

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AlertingService"].full_name
MAX_PAGE = 1000
KINDS = {
    pb.EXTERNAL_EVENT_TYPE_GUNSHOT: inc.GUNSHOT,
    pb.EXTERNAL_EVENT_TYPE_EMERGENCY_CALL: inc.CAD_INCIDENT,
    pb.EXTERNAL_EVENT_TYPE_CAD_INCIDENT: inc.CAD_INCIDENT,
}


def _page(size: int) -> int:
    if size < 0:
        raise InvalidArgument("page_size must not be negative", field="page_size")
    return min(size or 100, MAX_PAGE)


def _before(token: str) -> tuple[dt.datetime, str] | None:
    if not token:
        return None
    stamp, _, rid = token.partition("|")
    try:
        return dt.datetime.fromisoformat(stamp), rid
    except ValueError:
        raise InvalidArgument(
            "page_token is not one this server gave", field="page_token"
        ) from None


class AlertingServicer(ConfigRpcs, alerting_pb2_grpc.AlertingServiceServicer):
    def __init__(
        self,
        ops: AlertOperations,
        feed: AlertFeed,
        intake: Intake,
        config: ConfigStore,
        hotlists: HotlistStore,
    ) -> None:
        self.ops, self.feed, self.intake = ops, feed, intake
        self.notifier: Notifier | None = None
        self.store, self.engine, self.config, self.hotlists = (
            ops.store,
            ops.engine,
            config,
            hotlists,
        )

    async def PublishExternalEvent(
        self, request: pb.PublishExternalEventRequest, context: Any
    ) -> pb.PublishExternalEventResponse:
        p = current_principal()
        p.require_any_role("partner-admin", "service")
        e = request.external_event
        if not request.idempotency_key:
            raise InvalidArgument("idempotency_key is required", field="idempotency_key")
        if not e.source or not e.HasField("event_time"):
            raise InvalidArgument(
                "external_event.source and event_time are required", field="external_event"
            )
        event = inc.IncomingEvent(
            source=e.source,
            source_event_id=e.source_event_id or request.idempotency_key,
            kind=KINDS.get(e.type, inc.DETECTOR),
            event_time=to_datetime(e.event_time, "external_event.event_time"),
            latitude=e.location.latitude if e.HasField("location") else None,
            longitude=e.location.longitude if e.HasField("location") else None,
            summary=e.summary or e.source,
            severity=inc.HIGH,
            address=e.address,
            accuracy_m=e.location_accuracy_meters,
        )
        from rtcc.core.config import AlertSourceSettings

        source = AlertSourceSettings(
            name=_source_name(e.source),
            kind="detector",
            organization_id=p.org_id,
            secret=SecretStr("x" * 16),
        )  # type: ignore[arg-type]
        raw = request.SerializeToString(deterministic=True)
        result = await self.engine.report(source, event, raw, "application/x-protobuf")
        return pb.PublishExternalEventResponse(
            external_event=convert.external_event(result.event),
            alert_ids=[result.alert.id] if result.alert else [],
            duplicate=result.duplicate,
        )

    async def GetExternalEvent(
        self, request: pb.GetExternalEventRequest, context: Any
    ) -> pb.GetExternalEventResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        record, _ = await self.store.get_event(request.external_event_id, p.org_id)
        return pb.GetExternalEventResponse(external_event=convert.external_event(record))

    async def ListExternalEvents(
        self, request: pb.ListExternalEventsRequest, context: Any
    ) -> pb.ListExternalEventsResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        size = _page(request.page_size)
        tr = request.time_range
        area = None
        if request.HasField("area"):
            if request.area.radius_meters <= 0:
                raise InvalidArgument("area.radius_meters must be more than 0", field="area")
            c = request.area.center
            area = (c.latitude, c.longitude, request.area.radius_meters)
        found = await self.store.list_events(
            p.org_id,
            optional_datetime(tr, "start_time"),
            optional_datetime(tr, "end_time"),
            list(request.types),
            size + 1,
            _before(request.page_token),
            area,
        )
        token = ""
        if len(found) > size:
            found = found[:size]
            token = f"{found[-1].event_time.isoformat()}|{found[-1].id}"
        return pb.ListExternalEventsResponse(
            external_events=[convert.external_event(r) for r in found], next_page_token=token
        )

    async def GetAlert(self, request: pb.GetAlertRequest, context: Any) -> pb.GetAlertResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        return pb.GetAlertResponse(
            alert=convert.alert(await self.store.get(request.alert_id, scope(p)))
        )

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: Any
    ) -> pb.ListAlertsResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        size = _page(request.page_size)
        tr = request.time_range
        area = None
        if request.HasField("area"):
            if request.area.radius_meters <= 0:
                raise InvalidArgument("area.radius_meters must be more than 0", field="area")
            area = (
                request.area.center.latitude,
                request.area.center.longitude,
                request.area.radius_meters,
            )
        f = AlertFilter(
            p.org_id,
            tuple(request.states),
            int(request.min_severity),
            optional_datetime(tr, "start_time"),
            optional_datetime(tr, "end_time"),
            request.rule_id,
            request.assignee,
            area,
        )
        found = await self.store.find(f, size + 1, _before(request.page_token))
        token = ""
        if len(found) > size:
            found = found[:size]
            last = found[-1]
            token = f"{last.create_time.isoformat() if last.create_time else ''}|{last.id}"
        return pb.ListAlertsResponse(
            alerts=[convert.alert(a) for a in found], next_page_token=token
        )

    async def StreamAlerts(
        self, request: pb.StreamAlertsRequest, context: Any
    ) -> AsyncIterator[pb.StreamAlertsResponse]:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        org = scope(p)
        cursor = request.after_sequence
        if cursor < 0:
            raise InvalidArgument("after_sequence must not be negative", field="after_sequence")
        if cursor == 0:
            cursor = await self.store.last_sequence()
            if request.include_open:
                f = AlertFilter(p.org_id, states=(1, 2, 4))
                for alert in reversed(await self.store.find(f, 1000)):
                    if self._wanted(request, alert):
                        yield pb.StreamAlertsResponse(
                            alert=convert.alert(alert),
                            change=pb.ALERT_CHANGE_EXISTING,
                            sequence=cursor,
                        )
        async for seq, change, alert in self.feed.follow(cursor, org):
            if self._wanted(request, alert):
                yield pb.StreamAlertsResponse(
                    alert=convert.alert(alert),
                    change=change,  # type: ignore[arg-type]
                    sequence=seq,
                )

    @staticmethod
    def _wanted(request: pb.StreamAlertsRequest, alert: Any) -> bool:
        if request.min_severity and alert.severity < request.min_severity:
            return False
        if request.assignee and alert.assignee != request.assignee:
            return False
        if request.HasField("area") and request.area.radius_meters > 0:
            from rtcc.alerting.correlation import distance_m

            if alert.latitude is None:
                return False
            c = request.area.center
            return distance_m(c.latitude, c.longitude, alert.latitude, alert.longitude) <= (
                request.area.radius_meters
            )
        return True

    async def AcknowledgeAlert(
        self, request: pb.AcknowledgeAlertRequest, context: Any
    ) -> pb.AcknowledgeAlertResponse:
        a = await self.ops.acknowledge(
            current_principal(), request.alert_id, request.note, request.etag
        )
        return pb.AcknowledgeAlertResponse(alert=convert.alert(a))

    async def AssignAlert(
        self, request: pb.AssignAlertRequest, context: Any
    ) -> pb.AssignAlertResponse:
        a = await self.ops.assign(
            current_principal(),
            request.alert_id,
            request.assignee,
            request.unit,
            request.note,
            request.etag,
        )
        return pb.AssignAlertResponse(alert=convert.alert(a))

    async def ResolveAlert(
        self, request: pb.ResolveAlertRequest, context: Any
    ) -> pb.ResolveAlertResponse:
        a = await self.ops.resolve(
            current_principal(), request.alert_id, request.outcome, request.note, request.etag
        )
        return pb.ResolveAlertResponse(alert=convert.alert(a))

    async def DismissAlert(
        self, request: pb.DismissAlertRequest, context: Any
    ) -> pb.DismissAlertResponse:
        a = await self.ops.dismiss(
            current_principal(), request.alert_id, request.reason, request.etag
        )
        return pb.DismissAlertResponse(alert=convert.alert(a))

    async def AddAlertNote(
        self, request: pb.AddAlertNoteRequest, context: Any
    ) -> pb.AddAlertNoteResponse:
        a = await self.ops.note(current_principal(), request.alert_id, request.text)
        return pb.AddAlertNoteResponse(alert=convert.alert(a))

    async def MergeAlerts(
        self, request: pb.MergeAlertsRequest, context: Any
    ) -> pb.MergeAlertsResponse:
        a = await self.ops.merge(
            current_principal(), request.alert_id, list(request.duplicate_alert_ids)
        )
        return pb.MergeAlertsResponse(alert=convert.alert(a))

    async def GetAlertContext(
        self, request: pb.GetAlertContextRequest, context: Any
    ) -> pb.GetAlertContextResponse:
        p = current_principal()
        ctx = await self.ops.context(p, Caller.of_call(context), request.alert_id, request.purpose)
        out = pb.GetAlertContextResponse(
            prior_alerts=[convert.alert(a) for a in ctx.prior],
            hotlist_hits=[convert.hit(h) for h in ctx.hits],
            holds=[convert.hold(h) for h in ctx.holds],
        )
        for cam in ctx.cameras:
            out.nearby_cameras.add(
                camera_id=cam["camera_id"],
                display_name=cam["display_name"],
                location={"latitude": cam["latitude"], "longitude": cam["longitude"]},
                distance_meters=cam["distance_m"],
                bearing_degrees=cam["bearing_deg"],
                in_field_of_view=cam["in_view"],
                live_available=cam["live_available"],
                recorded_available=cam["recorded_available"],
                rank=cam["rank"],
                reason=cam["reason"],
                live_url=cam["live_url"],
                recording_url=cam["recording_url"],
                heading_degrees=cam["heading_deg"],
                angle_degrees=cam["angle_deg"],
                range_meters=cam["range_m"],
            )
        out.recent_plate_reads.extend(ctx.reads)
        return out

    async def TestNotificationChannel(
        self, request: pb.TestNotificationChannelRequest, context: Any
    ) -> pb.TestNotificationChannelResponse:
        p = current_principal()
        p.require_any_role(*ADMIN_ROLES)
        channel, secret = await self.config.get_channel(request.notification_channel_id, p.org_id)
        now = dt.datetime.now(dt.UTC)
        test = AlertRecord(
            "alr_test",
            p.org_id,
            "test",
            f"Test message for channel {channel.display_name}",
            1,
            1,
            None,
            None,
            now,
            now,
        )
        try:
            assert self.notifier is not None
            await self.notifier.send_to(channel, secret, test)
        except Exception as exc:  # the answer reports any failure as a sentence
            return pb.TestNotificationChannelResponse(delivered=False, error=str(exc)[:500])
        return pb.TestNotificationChannelResponse(delivered=True)

    async def VerifyHotlistHit(
        self, request: pb.VerifyHotlistHitRequest, context: Any
    ) -> pb.VerifyHotlistHitResponse:
        hit = await self.ops.verify_hit(
            current_principal(), request.hit_id, request.confirmed, request.note
        )
        return pb.VerifyHotlistHitResponse(hit=convert.hit(hit))

    async def ListHotlistHits(
        self, request: pb.ListHotlistHitsRequest, context: Any
    ) -> pb.ListHotlistHitsResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        found = await self.hotlists.hits(p.org_id, list(request.states), _page(request.page_size))
        return pb.ListHotlistHitsResponse(hits=[convert.hit(h) for h in found])

    async def ListRecordingHolds(
        self, request: pb.ListRecordingHoldsRequest, context: Any
    ) -> pb.ListRecordingHoldsResponse:
        p = current_principal()
        p.require_any_role(*READ_ROLES)
        holder = ("alert", request.alert_id) if request.alert_id else None
        found = await self.ops.holds.find(
            scope(p), holder=holder, camera_id=request.camera_id, active_only=request.active_only
        )
        return pb.ListRecordingHoldsResponse(holds=[convert.hold(h) for h in found])

    async def ReleaseRecordingHold(
        self, request: pb.ReleaseRecordingHoldRequest, context: Any
    ) -> pb.ReleaseRecordingHoldResponse:
        hold = await self.ops.release_hold(current_principal(), request.hold_id, request.reason)
        return pb.ReleaseRecordingHoldResponse(hold=convert.hold(hold))


def _source_name(source: str) -> str:
    import re

    name = re.sub(r"[^a-z0-9-]", "-", source.lower())[:63].strip("-")
    if not name:
        raise InvalidArgument(
            "external_event.source must name the reporting system", field="external_event.source"
        )
    return name


class Alerting:
    """Everything the target builds, for setup and for tests that drive it directly."""

    def __init__(self, runtime: Runtime, clock: Any = None) -> None:
        settings = runtime.settings.alerting
        self.clients = for_service(runtime, "alerting")
        self.store, self.holds = AlertStore(runtime.db), HoldStore(runtime.db)
        self.config, self.hotlists = ConfigStore(runtime.db), HotlistStore(runtime.db)
        self.correlator = Correlator(self.clients, self.store)
        kwargs = {"clock": clock} if clock is not None else {}
        self.engine = AlertEngine(
            self.store, self.holds, self.config, self.correlator, runtime.bus, settings, **kwargs
        )
        self.watch = FeedWatch(runtime.db, self.engine, settings)
        self.intake = Intake(self.engine, self.watch, settings)
        self.ops = AlertOperations(self.engine, self.holds, self.hotlists, self.clients)
        self.feed = AlertFeed(self.store, runtime.bus)
        self.cache = HotlistCache(self.hotlists)
        self.worker = AlertingWorker(
            runtime, self.engine, self.watch, self.config, self.cache, self.hotlists, self.clients
        )
        self.http = AlertingHttp(self.intake, self.ops, self.feed, runtime.authority)


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    """Serve AlertingService, add the HTTP routes and start the background loops."""
    alerting = Alerting(runtime)
    runtime.shared["alerting"] = alerting
    servicer = AlertingServicer(
        alerting.ops, alerting.feed, alerting.intake, alerting.config, alerting.hotlists
    )
    servicer.notifier = alerting.worker.notifier
    alerting_pb2_grpc.add_AlertingServiceServicer_to_server(servicer, server)
    runtime.http_routes.extend(alerting.http.routes())
    runtime.supervise("alerting-feed", alerting.feed.listen, target="alerting")
    alerting.worker.start()
    return [SERVICE_NAME]


__all__ = ["Alerting", "AlertingServicer", "NewAlert", "setup"]
