"""The service's event sink: snapshot to the object store, rows to the database, then
the event on the bus (``rtcc.analytics.event``), in that order, so nothing is announced
before it is durable. The bus message id is the event id: consumers deduplicate on it.
A camera stopped while an event is on its way (a replica draining, a lease handed over)
finishes that event first, so nothing is stored and left unannounced.

A replica killed between storing an event and announcing it (SIGKILL, power) leaves one
stored and unheard of; whoever takes the camera next calls `reannounce`, which
publishes the camera's events of the last `REANNOUNCE_S` again under their ids. The
bus drops those it already holds (its duplicate window, 2 minutes, is longer), so only
the unannounced ones reach consumers, late; consumers deduplicate on the id anyway.
A camera no replica takes within `REANNOUNCE_S` of the kill keeps such an event
unannounced (an outbox in the database would close that; not built).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from rtcc.analytics import convert
from rtcc.analytics.events import BUS_SUBJECT, DetectedEvent
from rtcc.analytics.queries import EventQuery
from rtcc.analytics.store import AnalyticsStore
from rtcc.backends.bus import EventBus
from rtcc.backends.objectstore import ObjectStore

BUCKET = "snapshots"
# How long a cancelled publish may still take to finish storing and announcing.
FINISH_S = 10.0
# How far back a new holder of a camera announces its events again: well inside the
# bus's duplicate window (rules.DUPLICATE_WINDOW_S, 120 s), well beyond a takeover (15 s).
REANNOUNCE_S = 60.0


def snapshot_key(event: DetectedEvent) -> str:
    record = event.event
    day = record.event_time.strftime("%Y/%m/%d")
    return f"{record.camera_id}/{day}/{record.id}.jpg"


class StoringSink:
    def __init__(self, store: AnalyticsStore, objects: ObjectStore, bus: EventBus) -> None:
        self._store = store
        self._objects = objects
        self._bus = bus
        self._bucket_ready = False

    async def publish(self, event: DetectedEvent) -> None:
        task = asyncio.ensure_future(self._publish(event))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # Cancelled between storing and announcing would leave a stored event no
            # consumer hears of: finish it (bounded), then stop.
            if not task.done():
                await asyncio.wait({task}, timeout=FINISH_S)
                if not task.done():
                    task.cancel()
            raise

    async def _publish(self, event: DetectedEvent) -> None:
        if event.snapshot_jpeg:
            if not self._bucket_ready:
                await self._objects.ensure_bucket(BUCKET)
                self._bucket_ready = True
            key = snapshot_key(event)
            await self._objects.put(BUCKET, key, event.snapshot_jpeg, content_type="image/jpeg")
            event.event.snapshot_key = key
            if event.plate_read is not None:
                event.plate_read.snapshot_key = key
        if event.plate_read is not None:
            await self._store.add_plate_reads([event.plate_read])
        await self._store.add_events([event.event])
        message = convert.event(event.event).SerializeToString()
        await self._bus.publish(BUS_SUBJECT, message, msg_id=event.event.id)

    async def reannounce(self, camera_id: str, now: datetime | None = None) -> int:
        """Publish ``camera_id``'s events of the last `REANNOUNCE_S` again; returns how
        many were sent (the bus keeps only those it had not got)."""
        end = now or datetime.now(UTC)
        query = EventQuery(
            start=end - timedelta(seconds=REANNOUNCE_S),
            end=end + timedelta(seconds=1),
            allowed_cameras=None,
            camera_ids=(camera_id,),
            page_size=500,
        )
        records, token = [], ""
        while True:
            page, token = await self._store.list_events(
                dataclasses.replace(query, page_token=token)
            )
            records += page
            if not token:
                break
        for record in reversed(records):  # oldest first, as they were announced
            message = convert.event(record).SerializeToString()
            await self._bus.publish(BUS_SUBJECT, message, msg_id=record.id)
        return len(records)
