"""The alert engine: reports and triggers become alerts with their context.

One path for every source: a normalised report (or an analytics trigger, a hot list
hit, a system condition) → its alert found (same source incident, or same duplicate
key while open) or created → context gathered (cameras, reads, history) before the
write, so the alert is stored, audited, queued for notification, its recordings put
on hold and announced in one transaction → correlation rules evaluated → a wake-up
on the bus (``rtcc.alerting.changed``) for every replica's StreamAlerts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.alerting import correlation as corr
from rtcc.alerting import incoming as inc
from rtcc.alerting import lifecycle
from rtcc.alerting.config_store import ConfigStore
from rtcc.alerting.context import Correlator
from rtcc.alerting.holds import HoldStore, plan_holds
from rtcc.alerting.records import AlertRecord, ExternalEventRecord
from rtcc.alerting.store import SYSTEM, Actor, AlertStore
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.backends.bus import EventBus
from rtcc.core.config import AlertingSettings, AlertSourceSettings
from rtcc.core.errors import FailedPrecondition, NotFound
from rtcc.core.ids import new_id

log = structlog.get_logger("rtcc.alerting")
CHANGED_SUBJECT = "rtcc.alerting.changed"
CONFIG_TTL_S = 2.0
EVENT_TYPES = {
    inc.GUNSHOT: pb.EXTERNAL_EVENT_TYPE_GUNSHOT,
    inc.CAD_INCIDENT: pb.EXTERNAL_EVENT_TYPE_CAD_INCIDENT,
    inc.DETECTOR: pb.EXTERNAL_EVENT_TYPE_ALARM,
}
SOURCE_KINDS = {"gunshot": inc.GUNSHOT, "cad": inc.CAD_INCIDENT, "detector": inc.DETECTOR}
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ReportResult:
    event: ExternalEventRecord
    alert: AlertRecord | None
    duplicate: bool = False


@dataclass(frozen=True)
class NewAlert:
    organization_id: str
    kind: str
    title: str
    severity: int
    latitude: float | None
    longitude: float | None
    time: dt.datetime
    trigger: tuple[str, str, str]  # (trigger kind, id, camera_id)
    source: str = ""
    source_event_id: str = ""
    revision: int = 0
    rule_id: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    merge_key: str | None = None  # None: from settings.merge_key
    alert_id: str = ""  # "" : a new id


class AlertEngine:
    def __init__(
        self,
        store: AlertStore,
        holds: HoldStore,
        config: ConfigStore,
        correlator: Correlator,
        bus: EventBus,
        settings: AlertingSettings,
        clock: Clock = utcnow,
    ) -> None:
        self.store, self.holds, self.config = store, holds, config
        self.correlator, self.bus, self.settings, self.clock = correlator, bus, settings, clock
        self._cached: dict[tuple[str, str], tuple[float, Any]] = {}
        area = settings.served_area
        self.area = inc.ServedArea(*area) if len(area) == 4 else None

    def policy(self, kind: str, source: AlertSourceSettings | None = None) -> corr.Policy:
        base = corr.policy_for(kind)
        if source is None:
            return base
        return corr.Policy(
            source.radius_m or base.radius_m,
            dt.timedelta(seconds=source.window_s) if source.window_s else base.window,
            dt.timedelta(days=source.history_days) if source.history_days else base.history,
            base.max_cameras,
        )

    # -- external reports ---------------------------------------------------------------
    async def report(
        self,
        source: AlertSourceSettings,
        event: inc.IncomingEvent,
        raw: bytes,
        content_type: str,
        *,
        is_update: bool = False,
    ) -> ReportResult:
        """Store the report beside its raw bytes, then raise or update its alert."""
        org = source.organization_id
        key = f"{event.source}:{event.source_event_id}:{event.revision}"
        seen = await self.store.event_by_key(org, key)
        if seen is not None:
            alert = await self.store.get(seen.alert_id, org) if seen.alert_id else None
            return ReportResult(seen, alert, duplicate=True)
        inc.check_location(event, self.area)
        existing = await self.store.open_for_source(org, event.source, event.source_event_id)
        record = self._event_record(org, key, event, raw, content_type)
        if existing is None and (is_update or event.status == "closed"):
            await self.store.add_event(record, raw)  # kept: nothing a source sent is lost
            raise NotFound(
                f"{event.source} incident {event.source_event_id!r} is not known here; send its "
                "first report before updates (this update was kept but not applied)"
            )
        if existing is not None and event.revision <= existing.source_revision:
            await self.store.add_event(dataclasses.replace(record, alert_id=existing.id), raw)
            raise FailedPrecondition(
                f"{event.source} incident {event.source_event_id!r} already has revision "
                f"{existing.source_revision}; revision {event.revision} arrived out of order "
                "and was kept but not applied"
            )
        stored_with_alert = []

        async def on_create(conn: AsyncConnection, alert: AlertRecord) -> None:
            # The report is stored with the alert it raised, in one transaction.
            await self.store.insert_event(conn, dataclasses.replace(record, alert_id=alert.id), raw)
            stored_with_alert.append(alert.id)

        if existing is None:
            alert = await self.raise_alert(
                NewAlert(
                    org,
                    event.kind,
                    event.summary,
                    event.severity,
                    event.latitude,
                    event.longitude,
                    event.event_time,
                    ("external_event", record.id, ""),
                    event.source,
                    event.source_event_id,
                    event.revision,
                    details={**event.details, "address": event.address},
                ),
                self.policy(event.kind, source),
                on_create=on_create,
            )
        else:
            alert = await self._apply_update(existing, event, record.id, source)
        if not stored_with_alert:
            await self.store.add_event(dataclasses.replace(record, alert_id=alert.id), raw)
        return ReportResult(dataclasses.replace(record, alert_id=alert.id), alert)

    def _event_record(
        self, org: str, key: str, event: inc.IncomingEvent, raw: bytes, content_type: str
    ) -> ExternalEventRecord:
        return ExternalEventRecord(
            new_id("ext"),
            org,
            event.source,
            event.source_event_id,
            event.kind,
            EVENT_TYPES.get(event.kind, pb.EXTERNAL_EVENT_TYPE_OTHER),
            event.revision,
            event.status,
            event.latitude,
            event.longitude,
            event.accuracy_m,
            event.address,
            event.summary,
            event.severity,
            event.event_time,
            self.clock(),
            event.details,
            inc.sha256_hex(raw),
            content_type[:100],
            "",
            key,
        )

    async def _apply_update(
        self,
        alert: AlertRecord,
        event: inc.IncomingEvent,
        event_id: str,
        source: AlertSourceSettings,
    ) -> AlertRecord:
        assert event.latitude is not None and event.longitude is not None
        summary = corr.ContextSummary(latitude=alert.latitude, longitude=alert.longitude)
        moved = summary.moved(event.latitude, event.longitude)
        gathered = None
        if moved:
            gathered = await self.correlator.gather(
                alert.organization_id,
                alert.id,
                event.latitude,
                event.longitude,
                alert.first_trigger_time,
                self.policy(event.kind, source),
            )
        now = self.clock()

        def mutate(a: AlertRecord) -> str:
            a.source_revision = event.revision
            a.title, a.severity = event.summary, max(a.severity, event.severity)
            a.latitude, a.longitude = event.latitude, event.longitude
            a.details = {**a.details, **event.details, "address": event.address}
            a.add_trigger("external_event", event_id, event.event_time)
            a.add_note(
                "",
                "",
                f"update from {event.source} (revision {event.revision})"
                + (": location revised, context gathered again" if moved else ""),
                now,
            )
            if gathered is not None:
                a.correlation = gathered.to_json(now)
            if event.status == "closed" and a.state not in lifecycle.CLOSED:
                a.state, a.outcome, a.resolve_time = lifecycle.RESOLVED, lifecycle.ACTIONED, now
                a.add_note("", "", f"closed in {event.source}", now, lifecycle.RESOLVED)
            return "alert.update"

        updated = await self.store.update(alert.id, alert.organization_id, mutate, SYSTEM, now=now)
        if gathered is not None:
            await self._hold(updated, gathered)
        await self.announce(updated)
        return updated

    # -- any alert ------------------------------------------------------------------------
    async def raise_alert(
        self,
        new: NewAlert,
        policy: corr.Policy | None = None,
        *,
        on_create: Callable[[AsyncConnection, AlertRecord], Awaitable[None]] | None = None,
    ) -> AlertRecord:
        """Create (or fold into an open duplicate) an alert with its context and holds."""
        merge_key = new.merge_key
        if merge_key is None:
            merge_key = (
                lifecycle.merge_key(
                    tuple(self.settings.merge_key),
                    {
                        "kind": new.kind,
                        "source": new.source,
                        "source_event_id": new.source_event_id,
                        "address": new.details.get("address", ""),
                        "latitude": new.latitude,
                        "longitude": new.longitude,
                    },
                )
                if new.source_event_id or "cell" in self.settings.merge_key
                else ""
            )
        duplicate = await self.store.open_with_merge_key(new.organization_id, merge_key)
        if duplicate is not None:
            return await self.add_trigger(duplicate, new)
        rule_id, severity, channel_ids = await self._rule_for(new)
        alert = AlertRecord(
            new.alert_id or new_id("alr"),
            new.organization_id,
            new.kind,
            new.title[:300],
            severity,
            lifecycle.OPEN,
            new.latitude,
            new.longitude,
            new.time,
            new.time,
            rule_id=rule_id,
            source=new.source,
            source_event_id=new.source_event_id,
            source_revision=new.revision,
            merge_key=merge_key,
            details=new.details,
            create_time=self.clock(),
            triggers=[
                {
                    "kind": new.trigger[0],
                    "id": new.trigger[1],
                    "time": new.time.isoformat(),
                    "camera_id": new.trigger[2],
                }
            ],
        )
        gathered = None
        if new.latitude is not None and new.longitude is not None:
            gathered = await self.correlator.gather(
                new.organization_id,
                alert.id,
                new.latitude,
                new.longitude,
                new.time,
                policy or self.policy(new.kind),
            )
            alert.correlation = gathered.to_json(self.clock())
        holds = self._plan_holds(alert, gathered)
        alert.correlation["hold_ids"] = [h.id for h in holds]

        async def extra(conn: AsyncConnection, created: AlertRecord) -> None:
            await self.holds.place(holds, conn)
            if on_create is not None:
                await on_create(conn, created)

        stored = await self.store.create(alert, SYSTEM, channel_ids=channel_ids, extra=extra)
        await self.announce(stored)
        if new.kind != inc.CORRELATION and stored.latitude is not None:
            await self._correlation_rules(stored)
        return stored

    async def add_trigger(self, alert: AlertRecord, new: NewAlert) -> AlertRecord:
        def mutate(a: AlertRecord) -> str | None:
            if not a.add_trigger(new.trigger[0], new.trigger[1], new.time, new.trigger[2]):
                return None  # this trigger is already counted (a message delivered again)
            return "alert.add_trigger"

        before = alert.sequence
        updated = await self.store.update(alert.id, alert.organization_id, mutate, SYSTEM)
        if updated.sequence != before:
            await self.announce(updated)
        return updated

    def _plan_holds(self, alert: AlertRecord, gathered: Any) -> list[Any]:
        if gathered is None or not self.settings.hold_cameras:
            return []
        cameras = [r.camera.camera_id for r in gathered.cameras[: self.settings.hold_cameras]]
        return plan_holds(
            alert.organization_id,
            alert.id,
            cameras,
            alert.first_trigger_time,
            dt.timedelta(seconds=self.settings.hold_before_s),
            dt.timedelta(seconds=self.settings.hold_after_s),
            self.clock(),
            f"{alert.kind} alert {alert.id}: {alert.title}"[:1000],
        )

    async def _hold(self, alert: AlertRecord, gathered: Any) -> None:
        holds = self._plan_holds(alert, gathered)
        await self.holds.place(holds)

    async def _rule_for(self, new: NewAlert) -> tuple[str, int, list[str]]:
        """The rule id, severity and channels: the given rule's, else every enabled
        channel of the organisation at or below the alert's severity."""
        severity, channel_ids, rule_id = new.severity, None, new.rule_id
        if rule_id:
            try:
                rule = await self.config.get_rule(rule_id, new.organization_id)
                severity = rule.severity or severity
                channel_ids = list(rule.notification_channel_ids)
            except NotFound:
                rule_id = ""
        channels = await self._cache("channels", new.organization_id, self.config.list_channels)
        chosen = [
            c.id
            for c in channels
            if c.enabled
            and c.min_severity <= severity
            and (channel_ids is None or c.id in channel_ids)
        ]
        return rule_id, severity, chosen

    async def _correlation_rules(self, alert: AlertRecord) -> None:
        listed = await self._cache("rules", alert.organization_id, self.config.list_rules)
        rules = [r for r in listed if r.enabled and r.HasField("correlation")]
        if not rules:
            return
        parsed = [_correlation_rule(r) for r in rules]
        window = max(r.window for r in parsed)
        radius = max(r.radius_m for r in parsed)
        assert alert.latitude is not None and alert.longitude is not None
        at = alert.first_trigger_time
        recent = await self.store.near(
            alert.organization_id,
            alert.latitude,
            alert.longitude,
            radius,
            at - window - dt.timedelta(minutes=1),
            at + window,
            exclude=alert.id,
            limit=200,
        )
        facts = [_facts(a) for a in recent if a.latitude is not None and a.kind != inc.CORRELATION]
        for match in corr.correlate(parsed, _facts(alert), facts):
            await self.raise_alert(
                NewAlert(
                    alert.organization_id,
                    inc.CORRELATION,
                    match.title(),
                    match.rule.severity,
                    match.condition.latitude,
                    match.condition.longitude,
                    match.condition.time,
                    ("alert", match.premise.alert_id, ""),
                    rule_id=match.rule.rule_id,
                    details={
                        "premise_alert_id": match.premise.alert_id,
                        "condition_alert_id": match.condition.alert_id,
                        "distance_m": round(match.distance_m, 1),
                    },
                    merge_key=match.key,
                )
            )

    async def _cache(self, kind: str, org_id: str, load: Callable[[str], Awaitable[Any]]) -> Any:
        """Rules and channels of an organisation, re-read at most every CONFIG_TTL_S
        (a change applies to alerts raised from then on, within that delay)."""
        now = time.monotonic()
        found = self._cached.get((kind, org_id))
        if found is None or found[0] < now:
            found = (now + CONFIG_TTL_S, await load(org_id))
            if len(self._cached) > 10_000:
                self._cached.clear()
            self._cached[(kind, org_id)] = found
        return found[1]

    async def announce(self, alert: AlertRecord) -> None:
        """Wake every replica's streams; the change log is the truth, this is a hint."""
        try:
            await self.bus.publish(
                CHANGED_SUBJECT,
                str(alert.sequence).encode(),
                msg_id=f"{alert.id}:{alert.sequence}",
            )
        except Exception as exc:  # a lost hint only delays streams until their next poll
            log.warning("alert_announce_failed", alert_id=alert.id, error=str(exc))

    async def update(
        self,
        alert_id: str,
        org_id: str | None,
        mutate: Callable[[AlertRecord], str | None],
        actor: Actor,
        *,
        etag: str = "",
        notify: bool = False,
    ) -> AlertRecord:
        channel_ids: Sequence[str] = ()
        updated = await self.store.update(
            alert_id, org_id, mutate, actor, etag=etag, channel_ids=channel_ids
        )
        await self.announce(updated)
        return updated


def _facts(alert: AlertRecord) -> corr.AlertFacts:
    assert alert.latitude is not None and alert.longitude is not None
    return corr.AlertFacts(
        alert.id,
        alert.kind,
        alert.latitude,
        alert.longitude,
        alert.first_trigger_time,
        alert.severity,
    )


def _correlation_rule(rule: pb.Rule) -> corr.CorrelationRule:
    trigger = rule.correlation
    window = trigger.window.ToTimedelta() if trigger.HasField("window") else dt.timedelta(0)
    return corr.CorrelationRule(
        rule.id,
        frozenset(trigger.premise_kinds),
        frozenset(trigger.condition_kinds),
        trigger.radius_meters or 500.0,
        window or dt.timedelta(minutes=10),
        rule.severity or pb.SEVERITY_CRITICAL,
        rule.display_name,
    )
