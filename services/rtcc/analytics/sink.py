"""The service's event sink: snapshot to the object store, rows to the database, then
the event on the bus (``rtcc.analytics.event``), in that order, so nothing is announced
before it is durable. The bus message id is the event id: consumers deduplicate on it.
A camera stopped while an event is on its way (a replica draining, a lease handed over)
finishes that event first, so nothing is stored and left unannounced.
"""

from __future__ import annotations

import asyncio

from rtcc.analytics import convert
from rtcc.analytics.events import BUS_SUBJECT, DetectedEvent
from rtcc.analytics.store import AnalyticsStore
from rtcc.backends.bus import EventBus
from rtcc.backends.objectstore import ObjectStore

BUCKET = "snapshots"
# How long a cancelled publish may still take to finish storing and announcing.
FINISH_S = 10.0


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
