"""What people do with alerts, shared by the gRPC servicer and the console's HTTP API:
lifecycle actions, notes, merges, hit verification, hold release and the viewer's
context (filtered to the cameras and reads the viewer may see; plate look-ups audited
with their stated purpose)."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rtcc.alerting import lifecycle
from rtcc.alerting.engine import AlertEngine
from rtcc.alerting.holds import RELEASE_ROLES, HoldStore
from rtcc.alerting.hotlist_store import HotlistStore
from rtcc.alerting.records import AlertRecord, HitRecord, HoldRecord
from rtcc.alerting.store import Actor
from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.clients import Caller, Clients, What
from rtcc.core.auth import Principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument, PermissionDenied

READ_ROLES = ("operator", "investigator", "analyst", "partner-admin", "platform-admin", "service")
ACT_ROLES = ("operator", "investigator", "partner-admin", "service")
ADMIN_ROLES = ("partner-admin", "platform-admin", "service")


def scope(principal: Principal) -> str | None:
    """The organisation whose alerts the caller sees; None for services (all)."""
    return None if principal.is_service() else principal.org_id


def actor(principal: Principal) -> Actor:
    return Actor(principal.subject, principal.org_id)


@dataclass
class ViewerContext:
    alert: AlertRecord
    cameras: list[dict[str, Any]] = field(default_factory=list)
    reads: list[Any] = field(default_factory=list)  # analytics PlateRead messages
    prior: list[AlertRecord] = field(default_factory=list)
    hits: list[HitRecord] = field(default_factory=list)
    holds: list[HoldRecord] = field(default_factory=list)


class AlertOperations:
    def __init__(
        self, engine: AlertEngine, holds: HoldStore, hotlists: HotlistStore, clients: Clients
    ) -> None:
        self.engine, self.holds, self.hotlists, self.clients = engine, holds, hotlists, clients
        self.store = engine.store

    async def acknowledge(self, p: Principal, alert_id: str, note: str, etag: str) -> AlertRecord:
        p.require_any_role(*ACT_ROLES)
        note = lifecycle.check_note(note)
        now = self.engine.clock()

        def mutate(a: AlertRecord) -> str:
            t = lifecycle.acknowledge(a.state, a.id)
            a.state = t.state
            a.acknowledge_time = a.acknowledge_time or now
            a.add_note(p.subject, p.org_id, note or "acknowledged", now, t.state)
            return t.action

        return await self.engine.update(alert_id, scope(p), mutate, actor(p), etag=etag)

    async def assign(
        self, p: Principal, alert_id: str, assignee: str, unit: str, note: str, etag: str
    ) -> AlertRecord:
        p.require_any_role(*ACT_ROLES)
        note = lifecycle.check_note(note)
        now = self.engine.clock()

        def mutate(a: AlertRecord) -> str:
            t = lifecycle.assign(a.state, a.id, assignee.strip(), unit.strip())
            a.state, a.assignee, a.assigned_unit = t.state, assignee.strip(), unit.strip()
            a.acknowledge_time = a.acknowledge_time or now
            who = " / ".join(x for x in (assignee.strip(), unit.strip()) if x) or "nobody"
            a.add_note(p.subject, p.org_id, note or f"assigned to {who}", now, t.state)
            return t.action

        return await self.engine.update(alert_id, scope(p), mutate, actor(p), etag=etag)

    async def resolve(
        self, p: Principal, alert_id: str, outcome: int, note: str, etag: str
    ) -> AlertRecord:
        p.require_any_role(*ACT_ROLES)
        now = self.engine.clock()

        def mutate(a: AlertRecord) -> str:
            t = lifecycle.resolve(a.state, a.id, outcome, note)
            a.state, a.outcome, a.resolve_time = t.state, outcome, now
            a.add_note(p.subject, p.org_id, t.note or "resolved", now, t.state)
            return t.action

        return await self.engine.update(alert_id, scope(p), mutate, actor(p), etag=etag)

    async def dismiss(self, p: Principal, alert_id: str, reason: str, etag: str) -> AlertRecord:
        p.require_any_role(*ACT_ROLES)
        now = self.engine.clock()

        def mutate(a: AlertRecord) -> str:
            t = lifecycle.dismiss(a.state, a.id, reason)
            a.state, a.dismiss_reason, a.resolve_time = t.state, t.note, now
            a.add_note(p.subject, p.org_id, f"dismissed: {t.note}", now, t.state)
            return t.action

        return await self.engine.update(alert_id, scope(p), mutate, actor(p), etag=etag)

    async def note(self, p: Principal, alert_id: str, text: str) -> AlertRecord:
        p.require_any_role(*ACT_ROLES)
        text = lifecycle.check_note(text, required=True, name="text")
        now = self.engine.clock()

        def mutate(a: AlertRecord) -> str:
            a.add_note(p.subject, p.org_id, text, now)
            return "alert.note"

        return await self.engine.update(alert_id, scope(p), mutate, actor(p))

    async def merge(self, p: Principal, keep_id: str, duplicate_ids: list[str]) -> AlertRecord:
        p.require_any_role(*ACT_ROLES)
        if not 1 <= len(duplicate_ids) <= 100 or keep_id in duplicate_ids:
            raise InvalidArgument(
                "name 1 to 100 duplicates, not the kept alert itself", field="duplicate_alert_ids"
            )
        kept = await self.store.get(keep_id, scope(p))
        now = self.engine.clock()
        added = 0
        for dup_id in duplicate_ids:

            def close(a: AlertRecord) -> str:
                t = lifecycle.resolve(a.state, a.id, lifecycle.DUPLICATE, "")
                a.state, a.outcome, a.resolve_time, a.merged_into = (
                    t.state,
                    lifecycle.DUPLICATE,
                    now,
                    keep_id,
                )
                a.merge_key = ""
                a.add_note(p.subject, p.org_id, f"merged into {keep_id}", now, t.state)
                return "alert.merge"

            dup = await self.engine.update(dup_id, kept.organization_id, close, actor(p))
            added += dup.trigger_count

        def grow(a: AlertRecord) -> str:
            if a.state in lifecycle.CLOSED:
                raise FailedPrecondition(f"alert {a.id} is closed; merge into an open alert")
            a.trigger_count += added
            a.add_note(p.subject, p.org_id, f"merged {', '.join(duplicate_ids)}", now)
            return "alert.merge"

        return await self.engine.update(keep_id, kept.organization_id, grow, actor(p))

    async def verify_hit(self, p: Principal, hit_id: str, confirmed: bool, note: str) -> HitRecord:
        p.require_any_role("operator", "investigator", "partner-admin")
        note = lifecycle.check_note(note, required=True)
        hit = await self.hotlists.verify(
            hit_id, p.org_id, p.subject, confirmed, note, self.engine.clock()
        )
        if hit.alert_id:
            word = "confirmed" if confirmed else "rejected"
            now = self.engine.clock()

            def mutate(a: AlertRecord) -> str:
                a.add_note(p.subject, p.org_id, f"hot list hit {word} by {p.subject}: {note}", now)
                a.details = {**a.details, "verification": word}
                return "alert.verify_hit"

            await self.engine.update(hit.alert_id, p.org_id, mutate, actor(p))
        return hit

    async def release_hold(self, p: Principal, hold_id: str, reason: str) -> HoldRecord:
        if not (p.is_service("evidence") or p.has_any_role(*RELEASE_ROLES)):
            raise PermissionDenied(
                "releasing a recording hold needs the evidence service or the role "
                f"{', '.join(RELEASE_ROLES)}"
            )
        reason = lifecycle.check_note(reason, required=True, name="reason")
        org = None if p.is_service() or "platform-admin" in p.roles else p.org_id
        return await self.holds.release(
            hold_id, org, p.subject, p.org_id, reason, self.engine.clock()
        )

    async def context(
        self,
        p: Principal,
        caller: Caller,
        alert_id: str,
        purpose: str,
        *,
        history: dt.timedelta | None = None,
    ) -> ViewerContext:
        """The alert's stored context as this viewer may see it now."""
        p.require_any_role(*READ_ROLES)
        alert = await self.store.get(alert_id, scope(p))
        stored = alert.correlation or {}
        access = self.clients.access
        cameras = stored.get("cameras") or []
        live, recorded = await asyncio.gather(
            asyncio.gather(*(access.decide(p, c["camera_id"], What.LIVE_VIDEO) for c in cameras)),
            asyncio.gather(
                *(access.decide(p, c["camera_id"], What.RECORDED_VIDEO) for c in cameras)
            ),
        )
        meta = await asyncio.gather(
            *(access.decide(p, c["camera_id"], What.METADATA) for c in cameras)
        )
        out = ViewerContext(alert)
        for cam, m, lv, rec in zip(cameras, meta, live, recorded, strict=True):
            if m.allowed:
                out.cameras.append(
                    {**cam, "live_available": lv.allowed, "recorded_available": rec.allowed}
                )
        reads = stored.get("reads") or []
        if reads:
            await self._audit_plate_lookup(p, alert, purpose, len(reads))
            found = await asyncio.gather(
                *(
                    self.clients.analytics.get_plate_read(r["plate_read_id"], caller=caller)
                    for r in reads[:100]
                ),
                return_exceptions=True,
            )
            out.reads = [r for r in found if not isinstance(r, BaseException)]
        prior_ids = stored.get("prior_alert_ids") or []
        out.prior = await self.store.get_many(prior_ids[:50], alert.organization_id)
        out.hits = await self.hotlists.hits(alert.organization_id, alert_id=alert.id)
        if alert.details.get("hit_id"):
            out.hits += await self.hotlists.hits(
                alert.organization_id, ids=[alert.details["hit_id"]]
            )
        out.holds = await self.holds.find(None, holder=("alert", alert.id))
        return out

    async def _audit_plate_lookup(
        self, p: Principal, alert: AlertRecord, purpose: str, count: int
    ) -> None:
        purpose = (purpose or f"context of alert {alert.id}").strip()[:500]
        async with self.store.db.transaction() as conn:
            await append_audit(
                conn,
                AuditEntry(
                    p.subject,
                    p.org_id,
                    "plate.search",
                    "alert",
                    alert.id,
                    None,
                    {"purpose": purpose, "reads": count},
                ),
            )
