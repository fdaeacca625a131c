"""Alerts, their change log and external events in the platform database.

Every alert change appends one row to ``alerting_alert_changes`` in the same
transaction as the change (and its audit entry); the row's sequence is the
StreamAlerts cursor. On PostgreSQL the append takes a transaction-scoped advisory
lock, so sequences become visible in order and a reader resuming after N never
skips a change that commits later (SQLite serialises writers anyway).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.alerting import lifecycle
from rtcc.alerting.correlation import bounding_box, distance_m
from rtcc.alerting.records import AlertRecord, ExternalEventRecord
from rtcc.alerting.tables import alert_changes, alerts, deliveries, external_events
from rtcc.backends.audit import AuditEntry, append_audit
from rtcc.backends.database import Database
from rtcc.core.errors import FailedPrecondition, NotFound
from rtcc.core.ids import new_id

CREATED, UPDATED = 2, 3  # AlertChange
_CHANGE_LOCK = 0x414C_4552_5453  # "ALERTS"
_A = alerts.c
_ALERT_FIELDS = [f.name for f in dataclasses.fields(AlertRecord)]
_EVENT_FIELDS = [f.name for f in dataclasses.fields(ExternalEventRecord)]


def _etag() -> str:
    return secrets.token_hex(8)


def alert_from_row(row: Any) -> AlertRecord:
    data = {name: getattr(row, name) for name in _ALERT_FIELDS}
    return AlertRecord(**data)


def _alert_values(alert: AlertRecord) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in _ALERT_FIELDS}


def _event(row: Any) -> ExternalEventRecord:
    return ExternalEventRecord(**{name: getattr(row, name) for name in _EVENT_FIELDS})


@dataclass(frozen=True)
class Actor:
    subject: str
    org_id: str
    request_id: str | None = None


SYSTEM = Actor("", "")


@dataclass(frozen=True)
class AlertFilter:
    organization_id: str
    states: tuple[int, ...] = ()
    min_severity: int = 0
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    rule_id: str = ""
    assignee: str = ""
    area: tuple[float, float, float] | None = None  # lat, lon, radius_m
    kinds: tuple[str, ...] = ()
    # When the alert's first trigger happened (history), as opposed to when it was raised.
    trigger_start: dt.datetime | None = None
    trigger_end: dt.datetime | None = None


class AlertStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- change log ---------------------------------------------------------------
    async def _append_change(
        self, conn: AsyncConnection, alert_id: str, org_id: str, change: int, now: dt.datetime
    ) -> int:
        if self.db.dialect == "postgresql":
            await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_CHANGE_LOCK})"))
        result = await conn.execute(
            alert_changes.insert()
            .values(alert_id=alert_id, organization_id=org_id, change=change, time=now)
            .returning(alert_changes.c.seq)
        )
        return int(result.scalar_one())

    async def changes_after(
        self, seq: int, org_id: str | None, limit: int = 500
    ) -> list[tuple[int, int, AlertRecord]]:
        """(seq, change, alert as it is now) of changes after ``seq``, oldest first."""
        c = alert_changes.c
        query = (
            sa.select(c.seq, c.change, alerts)
            .join(alerts, alerts.c.id == c.alert_id)
            .where(c.seq > seq)
            .order_by(c.seq)
            .limit(limit)
        )
        if org_id is not None:
            query = query.where(c.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        return [(int(r.seq), int(r.change), alert_from_row(r)) for r in rows]

    async def last_sequence(self) -> int:
        async with self.db.transaction(readonly=True) as conn:
            value = (await conn.execute(sa.select(sa.func.max(alert_changes.c.seq)))).scalar()
        return int(value or 0)

    # -- writes ---------------------------------------------------------------------
    async def create(
        self,
        alert: AlertRecord,
        actor: Actor,
        *,
        channel_ids: Sequence[str] = (),
        extra: Callable[[AsyncConnection, AlertRecord], Awaitable[None]] | None = None,
    ) -> AlertRecord:
        """Store a new alert, its change row, its notification outbox rows and audit."""
        now = alert.create_time or dt.datetime.now(dt.UTC)
        alert.create_time = alert.update_time = alert.create_time or now
        alert.etag = _etag()
        async with self.db.transaction() as conn:
            alert.sequence = await self._append_change(
                conn, alert.id, alert.organization_id, CREATED, now
            )
            await conn.execute(alerts.insert().values(**_alert_values(alert)))
            await self._outbox(conn, alert.id, channel_ids, now)
            await append_audit(conn, self._audit(actor, "alert.create", alert, None, now))
            if extra is not None:
                await extra(conn, alert)
        return alert

    async def update(
        self,
        alert_id: str,
        org_id: str | None,
        mutate: Callable[[AlertRecord], str | None],
        actor: Actor,
        *,
        etag: str = "",
        channel_ids: Sequence[str] = (),
        now: dt.datetime | None = None,
    ) -> AlertRecord:
        """Read-modify-write one alert; ``mutate`` returns the audit action or None
        (nothing changed: no change row, no audit)."""
        now = now or dt.datetime.now(dt.UTC)
        async with self.db.transaction() as conn:
            query = sa.select(alerts).where(_A.id == alert_id).with_for_update()
            if org_id is not None:
                query = query.where(_A.organization_id == org_id)
            row = (await conn.execute(query)).first()
            if row is None:
                raise NotFound(f"alert {alert_id!r} does not exist or is not yours to see")
            alert = alert_from_row(row)
            if etag and etag != alert.etag:
                raise FailedPrecondition(
                    f"alert {alert_id} changed since you read it (etag {etag} is stale); "
                    "read it again"
                )
            before = alert.summary()
            action = mutate(alert)
            if action is None:
                return alert
            alert.update_time, alert.etag = now, _etag()
            alert.sequence = await self._append_change(
                conn, alert.id, alert.organization_id, UPDATED, now
            )
            await conn.execute(
                alerts.update().where(_A.id == alert_id).values(**_alert_values(alert))
            )
            await self._outbox(conn, alert.id, channel_ids, now)
            await append_audit(conn, self._audit(actor, action, alert, before, now))
        return alert

    async def _outbox(
        self, conn: AsyncConnection, alert_id: str, channel_ids: Sequence[str], now: dt.datetime
    ) -> None:
        if channel_ids:
            await conn.execute(
                deliveries.insert(),
                [
                    {
                        "id": new_id("dlv"),
                        "alert_id": alert_id,
                        "channel_id": cid,
                        "attempts": 0,
                        "state": "pending",
                        "next_attempt_time": now,
                        "last_error": "",
                        "create_time": now,
                    }
                    for cid in channel_ids
                ],
            )

    @staticmethod
    def _audit(
        actor: Actor,
        action: str,
        alert: AlertRecord,
        before: dict[str, Any] | None,
        now: dt.datetime,
    ) -> AuditEntry:
        return AuditEntry(
            actor.subject or "service:alerting",
            actor.org_id or alert.organization_id,
            action,
            "alert",
            alert.id,
            before,
            alert.summary(),
            actor.request_id,
            now,
        )

    # -- reads ----------------------------------------------------------------------
    async def get(self, alert_id: str, org_id: str | None) -> AlertRecord:
        query = sa.select(alerts).where(_A.id == alert_id)
        if org_id is not None:
            query = query.where(_A.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"alert {alert_id!r} does not exist or is not yours to see")
        return alert_from_row(row)

    async def get_many(self, ids: Sequence[str], org_id: str) -> list[AlertRecord]:
        if not ids:
            return []
        query = sa.select(alerts).where(_A.id.in_(list(ids)), _A.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            rows = (await conn.execute(query)).all()
        found = {r.id: alert_from_row(r) for r in rows}
        return [found[i] for i in ids if i in found]

    async def open_for_source(
        self, org_id: str, source: str, source_event_id: str
    ) -> AlertRecord | None:
        """The alert of a source's incident (any state: a closed one stays its alert)."""
        query = (
            sa.select(alerts)
            .where(
                _A.organization_id == org_id,
                _A.source == source,
                _A.source_event_id == source_event_id,
                _A.merged_into == "",
            )
            .order_by(_A.create_time.desc())
            .limit(1)
        )
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        return alert_from_row(row) if row is not None else None

    async def open_with_merge_key(self, org_id: str, key: str) -> AlertRecord | None:
        if not key:
            return None
        query = (
            sa.select(alerts)
            .where(
                _A.organization_id == org_id,
                _A.merge_key == key,
                _A.state.not_in(list(lifecycle.CLOSED)),
            )
            .order_by(_A.create_time)
            .limit(1)
        )
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        return alert_from_row(row) if row is not None else None

    async def find(
        self, f: AlertFilter, limit: int, before: tuple[dt.datetime, str] | None = None
    ) -> list[AlertRecord]:
        where: list[Any] = [_A.organization_id == f.organization_id]
        if f.states:
            where.append(_A.state.in_(list(f.states)))
        if f.min_severity:
            where.append(_A.severity >= f.min_severity)
        if f.start is not None:
            where.append(_A.create_time >= f.start)
        if f.end is not None:
            where.append(_A.create_time < f.end)
        if f.trigger_start is not None:
            where.append(_A.first_trigger_time >= f.trigger_start)
        if f.trigger_end is not None:
            where.append(_A.first_trigger_time <= f.trigger_end)
        if f.rule_id:
            where.append(_A.rule_id == f.rule_id)
        if f.assignee:
            where.append(_A.assignee == f.assignee)
        if f.kinds:
            where.append(_A.kind.in_(list(f.kinds)))
        if f.area is not None:
            lat, lon, radius = f.area
            min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius)
            where += [_A.latitude.between(min_lat, max_lat), _A.longitude.between(min_lon, max_lon)]
        if before is not None:
            where.append(sa.tuple_(_A.create_time, _A.id) < sa.tuple_(*before))
        query = (
            sa.select(alerts)
            .where(*where)
            .order_by(_A.create_time.desc(), _A.id.desc())
            .limit(limit if f.area is None else limit * 4)
        )
        async with self.db.transaction(readonly=True) as conn:
            rows = [alert_from_row(r) for r in (await conn.execute(query)).all()]
        if f.area is not None:
            lat, lon, radius = f.area
            rows = [
                a
                for a in rows
                if a.latitude is not None
                and a.longitude is not None
                and distance_m(lat, lon, a.latitude, a.longitude) <= radius
            ][:limit]
        return rows

    async def near(
        self,
        org_id: str,
        lat: float,
        lon: float,
        radius_m: float,
        since: dt.datetime,
        until: dt.datetime,
        *,
        exclude: str = "",
        limit: int = 50,
    ) -> list[AlertRecord]:
        """Alerts within the circle whose first trigger is in [since, until] (history)."""
        found = await self.find(
            AlertFilter(org_id, area=(lat, lon, radius_m), trigger_start=since, trigger_end=until),
            limit + 1,
        )
        return [a for a in found if a.id != exclude][:limit]

    # -- external events ------------------------------------------------------------
    async def add_event(self, record: ExternalEventRecord, raw: bytes) -> None:
        async with self.db.transaction() as conn:
            await self.insert_event(conn, record, raw)

    async def insert_event(
        self, conn: AsyncConnection, record: ExternalEventRecord, raw: bytes
    ) -> None:
        values = {name: getattr(record, name) for name in _EVENT_FIELDS}
        values["raw"] = raw
        await conn.execute(external_events.insert().values(**values))

    async def event_by_key(self, org_id: str, key: str) -> ExternalEventRecord | None:
        c = external_events.c
        query = sa.select(external_events).where(
            c.organization_id == org_id, c.idempotency_key == key
        )
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        return _event(row) if row is not None else None

    async def set_event_alert(self, event_id: str, alert_id: str) -> None:
        c = external_events.c
        async with self.db.transaction() as conn:
            await conn.execute(
                external_events.update().where(c.id == event_id).values(alert_id=alert_id)
            )

    async def get_event(self, event_id: str, org_id: str) -> tuple[ExternalEventRecord, bytes]:
        c = external_events.c
        query = sa.select(external_events).where(c.id == event_id, c.organization_id == org_id)
        async with self.db.transaction(readonly=True) as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"external event {event_id!r} does not exist or is not yours to see")
        return _event(row), bytes(row.raw)

    async def list_events(
        self,
        org_id: str,
        start: dt.datetime | None,
        end: dt.datetime | None,
        kinds: Sequence[int],
        limit: int,
        before: tuple[dt.datetime, str] | None = None,
        area: tuple[float, float, float] | None = None,
    ) -> list[ExternalEventRecord]:
        c = external_events.c
        where: list[Any] = [c.organization_id == org_id]
        if start is not None:
            where.append(c.event_time >= start)
        if end is not None:
            where.append(c.event_time < end)
        if kinds:
            where.append(c.type.in_(list(kinds)))
        if area is not None:
            min_lat, min_lon, max_lat, max_lon = bounding_box(*area)
            where += [c.latitude.between(min_lat, max_lat), c.longitude.between(min_lon, max_lon)]
        if before is not None:
            where.append(sa.tuple_(c.event_time, c.id) < sa.tuple_(*before))
        columns = [external_events.c[n] for n in _EVENT_FIELDS]
        query = sa.select(*columns).where(*where).order_by(c.event_time.desc(), c.id.desc())
        async with self.db.transaction(readonly=True) as conn:
            rows = [_event(r) for r in (await conn.execute(query.limit(limit * 4))).all()]
        if area is not None:
            lat, lon, radius = area
            rows = [
                e
                for e in rows
                if e.latitude is not None
                and e.longitude is not None
                and distance_m(lat, lon, e.latitude, e.longitude) <= radius
            ]
        return rows[:limit]

    async def open_before(self, when: dt.datetime, limit: int = 500) -> list[AlertRecord]:
        """Alerts still OPEN (unacknowledged) raised before ``when`` (escalation)."""
        query = (
            sa.select(alerts)
            .where(_A.state == lifecycle.OPEN, _A.create_time <= when)
            .order_by(_A.create_time)
            .limit(limit)
        )
        async with self.db.transaction(readonly=True) as conn:
            return [alert_from_row(r) for r in (await conn.execute(query)).all()]
