"""Source feeds: authenticated intake of raw messages, and heartbeat liveness.

``Intake.receive`` is the one entry of every pushed message (HTTP POST, the EIDO
WebSocket): size check, signature check, parse by the source's kind, then the engine.
``FeedWatch`` remembers each source's last heartbeat (``alerting_source_status``) and,
driven by a clock, raises a ``feed_silent`` system alert when a feed that promised
heartbeats goes quiet, closing it again when the feed is back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from rtcc.alerting import detector, eido, lifecycle, shotspotter, signing
from rtcc.alerting import incoming as inc
from rtcc.alerting.engine import AlertEngine, NewAlert, ReportResult
from rtcc.alerting.records import AlertRecord
from rtcc.alerting.store import SYSTEM
from rtcc.alerting.tables import source_status
from rtcc.backends.database import Database
from rtcc.core.config import AlertingSettings, AlertSourceSettings
from rtcc.core.errors import NotFound, ResourceExhausted

_S = source_status.c


@dataclass(frozen=True)
class Received:
    """What the sender is told."""

    result: ReportResult | None = None
    heartbeat: inc.Heartbeat | None = None


def silent(
    last: dt.datetime | None, started: dt.datetime, now: dt.datetime, timeout_s: float
) -> bool:
    """Whether a feed expecting heartbeats every ``timeout_s`` has gone quiet. Pure."""
    if timeout_s <= 0:
        return False
    return now - (last or started) > dt.timedelta(seconds=timeout_s)


class FeedWatch:
    def __init__(self, db: Database, engine: AlertEngine, settings: AlertingSettings) -> None:
        self.db, self.engine, self.settings = db, engine, settings
        self.started = engine.clock()
        self._written: dict[str, dt.datetime] = {}

    async def _row(self, name: str) -> sa.Row[object] | None:
        async with self.db.transaction(readonly=True) as conn:
            return (await conn.execute(sa.select(source_status).where(_S.source == name))).first()

    async def beat(
        self, source: AlertSourceSettings, when: dt.datetime, *, heartbeat: bool
    ) -> None:
        """Record a message (and whether it was a heartbeat); close a silence alert.

        Plain messages are recorded at most once a second per source (a burst of
        reports costs no extra writes); heartbeats always."""
        last = self._written.get(source.name)
        if not heartbeat and last is not None and abs((when - last).total_seconds()) < 1.0:
            return
        self._written[source.name] = when
        row = await self._row(source.name)
        values = {"last_message_time": when}
        if heartbeat:
            values["last_heartbeat_time"] = when
        async with self.db.transaction() as conn:
            if row is None:
                await conn.execute(
                    source_status.insert().values(
                        source=source.name,
                        organization_id=source.organization_id,
                        silent_alert_id="",
                        last_heartbeat_time=values.get("last_heartbeat_time"),
                        last_message_time=when,
                    )
                )
            else:
                await conn.execute(
                    source_status.update().where(_S.source == source.name).values(**values)
                )
        if heartbeat and row is not None and row.silent_alert_id:
            await self._close(source, row.silent_alert_id)

    async def _close(self, source: AlertSourceSettings, alert_id: str) -> None:
        now = self.engine.clock()

        def mutate(a: AlertRecord) -> str | None:
            if a.state in lifecycle.CLOSED:
                return None
            a.state, a.outcome, a.resolve_time = lifecycle.RESOLVED, lifecycle.NO_ACTION, now
            a.add_note("", "", f"{source.name} heartbeats resumed", now, lifecycle.RESOLVED)
            return "alert.resolve"

        try:
            await self.engine.update(alert_id, source.organization_id, mutate, SYSTEM)
        except NotFound:
            pass
        async with self.db.transaction() as conn:
            await conn.execute(
                source_status.update().where(_S.source == source.name).values(silent_alert_id="")
            )

    async def check(self, now: dt.datetime) -> list[AlertRecord]:
        """Raise a system alert for each feed silent at ``now`` (once per silence)."""
        raised = []
        for source in self.settings.sources:
            if source.heartbeat_timeout_s <= 0:
                continue
            row = await self._row(source.name)
            last = row.last_heartbeat_time if row is not None else None  # type: ignore[attr-defined]
            if row is not None and row.silent_alert_id:  # type: ignore[attr-defined]
                continue
            if not silent(last, self.started, now, source.heartbeat_timeout_s):
                continue
            since = f"since {last.isoformat()}" if last else "since start-up"
            alert = await self.engine.raise_alert(
                NewAlert(
                    source.organization_id,
                    inc.FEED_SILENT,
                    f"{source.name} feed silent: no heartbeat {since}",
                    inc.HIGH,
                    None,
                    None,
                    now,
                    ("external_event", f"{source.name}:silence", ""),
                    merge_key="",
                    details={"source": source.name, "timeout_s": source.heartbeat_timeout_s},
                )
            )
            async with self.db.transaction() as conn:
                if row is None:
                    await conn.execute(
                        source_status.insert().values(
                            source=source.name,
                            organization_id=source.organization_id,
                            silent_alert_id=alert.id,
                        )
                    )
                else:
                    await conn.execute(
                        source_status.update()
                        .where(_S.source == source.name)
                        .values(silent_alert_id=alert.id)
                    )
            raised.append(alert)
        return raised


class Intake:
    def __init__(self, engine: AlertEngine, watch: FeedWatch, settings: AlertingSettings) -> None:
        self.engine, self.watch, self.settings = engine, watch, settings
        self.sources = {s.name: s for s in settings.sources}
        self._inflight = 0

    def source(self, name: str) -> AlertSourceSettings:
        found = self.sources.get(name)
        if found is None:
            raise NotFound(f"no alert source named {name!r} is configured")
        return found

    def authenticate(
        self, source: AlertSourceSettings, headers: dict[str, str], body: bytes, now: float
    ) -> None:
        inc.check_size(body, self.settings.max_payload_bytes)
        signing.verify(
            source.secret.get_secret_value(),
            headers.get(signing.TIMESTAMP_HEADER.lower(), ""),
            headers.get(signing.SIGNATURE_HEADER.lower(), ""),
            body,
            now,
            self.settings.signature_tolerance_s,
        )

    async def receive(
        self, source: AlertSourceSettings, body: bytes, content_type: str
    ) -> Received:
        """Parse an authenticated message by its source's kind and act on it; over
        ``max_concurrent_reports`` at once the sender is told to retry (explicit
        backpressure: a report is processed or refused, never queued without bound)."""
        if self._inflight >= self.settings.max_concurrent_reports:
            raise ResourceExhausted("too many reports at once here; retry in a second")
        self._inflight += 1
        try:
            return await self._receive(source, body, content_type)
        finally:
            self._inflight -= 1

    async def _receive(
        self, source: AlertSourceSettings, body: bytes, content_type: str
    ) -> Received:
        inc.check_size(body, self.settings.max_payload_bytes)
        is_update = False
        parsed: inc.IncomingEvent | inc.Heartbeat
        if source.kind == "gunshot":
            parsed = shotspotter.parse(source.name, body)
        elif source.kind == "cad":
            parsed = eido.parse(source.name, body)
        else:
            parsed, is_update = detector.parse(source.name, body)
        now = self.engine.clock()
        if isinstance(parsed, inc.Heartbeat):
            await self.watch.beat(source, now, heartbeat=True)
            return Received(heartbeat=parsed)
        await self.watch.beat(source, now, heartbeat=False)
        result = await self.engine.report(source, parsed, body, content_type, is_update=is_update)
        return Received(result=result)
