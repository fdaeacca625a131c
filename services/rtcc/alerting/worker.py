"""Alerting's background loops, each supervised (restarted with backoff on failure):

* ``tick``: feed silence (heartbeats), escalation of unacknowledged alerts, hot list
  freshness — every ``tick_s``, all driven by ``engine.clock`` so tests move time;
* ``deliver``: the notification outbox (e-mail, webhooks) with retries;
* ``analytics``: ``rtcc.analytics.event`` from the bus (durable, shared by replicas):
  plate reads checked against every hot list, other events against analytics rules.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools

import structlog

from rtcc.alerting import eido_ws, lifecycle, rules
from rtcc.alerting import incoming as inc
from rtcc.alerting.config_store import ConfigStore
from rtcc.alerting.context import org_member
from rtcc.alerting.engine import AlertEngine, NewAlert
from rtcc.alerting.feeds import FeedWatch
from rtcc.alerting.hotlist_feed import HotlistFeed
from rtcc.alerting.hotlist_store import UNVERIFIED, HotlistCache, HotlistStore, entry_json
from rtcc.alerting.notify import Notifier
from rtcc.alerting.records import AlertRecord, HitRecord
from rtcc.alerting.store import SYSTEM
from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.clients import Clients, What
from rtcc.core.errors import RtccError
from rtcc.core.ids import new_id
from rtcc.core.runtime import Runtime
from rtcc.registry.v1 import registry_pb2 as rpb

log = structlog.get_logger("rtcc.alerting.worker")
ANALYTICS_SUBJECT = "rtcc.analytics.event"


class AlertingWorker:
    def __init__(
        self,
        runtime: Runtime,
        engine: AlertEngine,
        watch: FeedWatch,
        config: ConfigStore,
        cache: HotlistCache,
        hotlists: HotlistStore,
        clients: Clients,
    ) -> None:
        self.runtime, self.engine, self.watch, self.config = runtime, engine, watch, config
        self.cache, self.hotlists, self.clients = cache, hotlists, clients
        self.settings = runtime.settings.alerting
        self._health_revision = 0
        self.hotlist_feed = HotlistFeed(hotlists, engine, runtime.objects)
        self.notifier = Notifier(
            runtime.db, engine.store, config, self.settings, runtime.settings.resolved_public_url()
        )

    def start(self) -> None:
        for source in self.settings.sources:
            if source.kind == "cad" and source.subscribe_url:
                self.runtime.supervise(
                    f"alerting-eido-{source.name}",
                    functools.partial(
                        eido_ws.subscribe, source, self.engine, self.settings.max_payload_bytes
                    ),
                    target="alerting",
                )
        for name, run in (
            ("alerting-tick", self.tick_loop),
            ("alerting-deliver", self.deliver_loop),
            ("alerting-analytics", self.analytics_loop),
            ("alerting-camera-health", self.camera_health_loop),
        ):
            self.runtime.supervise(name, run, target="alerting")

    async def tick_loop(self) -> None:
        while True:
            await self.tick(self.engine.clock())
            await asyncio.sleep(self.settings.tick_s)

    async def deliver_loop(self) -> None:
        while True:
            await self.notifier.deliver_due(self.engine.clock())
            await asyncio.sleep(min(1.0, self.settings.tick_s))

    async def tick(self, now: dt.datetime) -> None:
        """One pass of the time-driven checks at ``now``."""
        await self.watch.check(now)
        await self.escalate(now)
        await self.hotlist_feed.run_due(now)
        await self.hotlist_freshness(now)

    async def escalate(self, now: dt.datetime) -> list[AlertRecord]:
        after = dt.timedelta(seconds=self.settings.escalate_after_s)
        if after <= dt.timedelta(0):
            return []
        escalated = []
        for alert in await self.engine.store.open_before(now - after):
            assert alert.create_time is not None
            if not lifecycle.due_escalation(
                alert.state, alert.create_time, alert.escalation_level, now, after
            ):
                continue

            def mutate(a: AlertRecord) -> str | None:
                if not lifecycle.due_escalation(
                    a.state, a.create_time or now, a.escalation_level, now, after
                ):
                    return None
                a.escalation_level += 1
                a.severity = lifecycle.escalated_severity(a.severity)
                a.add_note(
                    "",
                    "",
                    f"escalated: not acknowledged within "
                    f"{int(after.total_seconds() * a.escalation_level)} s",
                    now,
                )
                return "alert.escalate"

            channels = await self.engine._rule_for(
                NewAlert(
                    alert.organization_id,
                    alert.kind,
                    alert.title,
                    alert.severity + 1,
                    None,
                    None,
                    now,
                    ("", "", ""),
                )
            )
            updated = await self.engine.store.update(
                alert.id, alert.organization_id, mutate, SYSTEM, channel_ids=channels[2], now=now
            )
            await self.engine.announce(updated)
            escalated.append(updated)
        return escalated

    async def hotlist_freshness(self, now: dt.datetime) -> None:
        for record in await self.hotlists.all():
            if not record.max_age_s or record.stale_alert_id:
                continue
            last = record.import_time or record.create_time
            if now - last <= dt.timedelta(seconds=record.max_age_s):
                continue
            alert = await self.engine.raise_alert(
                NewAlert(
                    record.organization_id,
                    inc.HOTLIST_STALE,
                    f"hot list {record.display_name} not refreshed since {last.isoformat()}",
                    inc.MEDIUM,
                    None,
                    None,
                    now,
                    ("external_event", record.id, ""),
                    merge_key="",
                    details={"hotlist_id": record.id},
                )
            )
            await self.hotlists.set_stale_alert(record.id, alert.id)

    # -- camera health ------------------------------------------------------------------
    async def camera_health_loop(self) -> None:
        """Cameras going offline raise an alert (one open per camera); back online closes it."""
        if not self.settings.camera_offline_alerts:
            return
        async for change in self.clients.registry.watch(self._health_revision):
            self._health_revision = change.revision
            if change.type == rpb.CAMERA_CHANGE_TYPE_HEALTH_CHANGED and change.HasField("camera"):
                await self.on_health(change.camera)

    async def on_health(self, camera: rpb.Camera) -> AlertRecord | None:
        status = camera.health.status
        key = f"camera_offline:{camera.id}"
        now = self.engine.clock()
        if status == rpb.CAMERA_STATUS_OFFLINE:
            why = f" ({camera.health.detail})" if camera.health.detail else ""
            return await self.engine.raise_alert(
                NewAlert(
                    camera.organization_id,
                    inc.CAMERA_OFFLINE,
                    f"Camera {camera.display_name} offline{why}",
                    inc.MEDIUM,
                    camera.location.latitude,
                    camera.location.longitude,
                    now,
                    ("event", f"health:{camera.id}", camera.id),
                    merge_key=key,
                    details={"camera_id": camera.id},
                )
            )
        if status == rpb.CAMERA_STATUS_ONLINE:
            found = await self.engine.store.open_with_merge_key(camera.organization_id, key)
            if found is not None:

                def mutate(a: AlertRecord) -> str | None:
                    if a.state in lifecycle.CLOSED:
                        return None
                    a.state, a.outcome, a.resolve_time = (
                        lifecycle.RESOLVED,
                        lifecycle.NO_ACTION,
                        now,
                    )
                    a.merge_key = ""
                    a.add_note("", "", "camera back online", now, lifecycle.RESOLVED)
                    return "alert.resolve"

                return await self.engine.update(found.id, found.organization_id, mutate, SYSTEM)
        return None

    # -- analytics events -------------------------------------------------------------
    async def analytics_loop(self) -> None:
        sub = await self.runtime.bus.subscribe(ANALYTICS_SUBJECT, durable="alerting-analytics")
        try:
            async for message in sub:
                event = apb.Event.FromString(message.data)
                await self.on_event(event)
                await message.ack()
        finally:
            await sub.close()

    async def on_event(self, event: apb.Event) -> list[AlertRecord]:
        raised = await self.on_rules(event)
        if event.type == apb.EVENT_TYPE_PLATE_READ and event.plate_read_id:
            read = await self.clients.analytics.get_plate_read(event.plate_read_id)
            raised += await self.on_plate_read(read)
        return raised

    async def on_rules(self, event: apb.Event) -> list[AlertRecord]:
        """Analytics rules of every organisation that may see the camera's analytics;
        a trigger within the rule's correlation window of its open alert at the same
        camera joins that alert."""
        when = event.event_time.ToDatetime(dt.UTC)
        raised = []
        for rule in await self.config.list_rules(None, enabled_only=True):
            if not rules.matches(rule, event, when):
                continue
            if rule.organization_id != event.organization_id:
                decision = await self.clients.access.decide(
                    org_member(rule.organization_id), event.camera_id, What.ANALYTICS
                )
                if not decision.allowed:
                    continue
            lat, lon = (
                (event.location.latitude, event.location.longitude)
                if event.HasField("location")
                else (None, None)
            )
            bucket = int(when.timestamp() // rules.correlation_window(rule).total_seconds())
            alert = await self.engine.raise_alert(
                NewAlert(
                    rule.organization_id,
                    inc.ANALYTICS_EVENT,
                    rules.title(rule, event),
                    rule.severity or inc.MEDIUM,
                    lat,
                    lon,
                    when,
                    ("event", event.id, event.camera_id),
                    rule_id=rule.id,
                    merge_key=f"rule:{rule.id}:{event.camera_id}:{bucket}",
                    details={"camera_id": event.camera_id, "zone_id": event.zone_id},
                )
            )
            raised.append(alert)
        return raised

    async def _where(self, read: apb.PlateRead) -> tuple[float | None, float | None]:
        """The read's location, else its camera's."""
        if read.HasField("location"):
            return read.location.latitude, read.location.longitude
        try:
            camera = await self.clients.registry.get_camera(read.camera_id)
        except RtccError:
            return None, None
        return camera.location.latitude, camera.location.longitude

    async def on_plate_read(self, read: apb.PlateRead) -> list[AlertRecord]:
        """Check a read against every hot list (one dict look-up per list)."""
        await self.cache.refresh()
        when = read.read_time.ToDatetime(dt.UTC)
        raised = []
        for record, match in self.cache.match(read.plate, when, read.region):
            if record.organization_id != read.organization_id:
                decision = await self.clients.access.decide(
                    org_member(record.organization_id), read.camera_id, What.ANALYTICS
                )
                if not decision.allowed:
                    continue
            lat, lon = await self._where(read)
            hit = HitRecord(
                new_id("hit"),
                record.organization_id,
                record.id,
                read.id,
                read.plate,
                read.camera_id,
                when,
                lat,
                lon,
                entry_json(match.entry),
                match.match_type,
                match.substitutions,
                UNVERIFIED,
                alert_id=new_id("alr"),
            )
            if not await self.hotlists.add_hit(hit):
                continue
            kind = "exact" if match.match_type == 1 else f"OCR-equivalent ({match.substitutions})"
            alert = await self.engine.raise_alert(
                NewAlert(
                    record.organization_id,
                    inc.HOTLIST_HIT,
                    f"Hot list {record.display_name}: {match.entry.plate} ({match.entry.category}) "
                    f"read as {read.plate}, {kind} — unverified",
                    record.severity,
                    lat,
                    lon,
                    when,
                    ("plate_read", read.id, read.camera_id),
                    merge_key="",
                    alert_id=hit.alert_id,
                    details={
                        "hit_id": hit.id,
                        "hotlist_id": record.id,
                        "verification": "unverified",
                    },
                )
            )
            raised.append(alert)
        return raised
