"""Following the alert change log from a cursor, for StreamAlerts and the console's SSE.

The change log in the database is the truth; the bus subject ``rtcc.alerting.changed``
only wakes followers early (each follower has a private subscription, so every replica
hears every change). A follower reads every change after its cursor, then waits for a
wake-up or ``poll_s`` at most, so a lost wake-up costs latency, never an alert.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog

from rtcc.alerting.engine import CHANGED_SUBJECT
from rtcc.alerting.records import AlertRecord
from rtcc.alerting.store import AlertStore
from rtcc.backends.bus import EventBus
from rtcc.core.errors import Unavailable
from rtcc.core.ids import new_id

log = structlog.get_logger("rtcc.alerting.stream")


class AlertFeed:
    def __init__(self, store: AlertStore, bus: EventBus, poll_s: float = 1.0) -> None:
        self.store, self.bus, self.poll_s = store, bus, poll_s
        self._waiters: set[asyncio.Event] = set()

    async def listen(self) -> None:
        """One private subscription per process, fanned out to local followers."""
        sub = await self.bus.subscribe(
            CHANGED_SUBJECT, durable=new_id("alertfeed").replace("_", "-"), queue=False
        )
        try:
            async for message in sub:
                await message.ack()
                for waiter in list(self._waiters):
                    waiter.set()
        finally:
            await sub.close()

    async def follow(
        self, cursor: int, org_id: str | None
    ) -> AsyncIterator[tuple[int, int, AlertRecord]]:
        """Every change after ``cursor`` (oldest first), then new ones as they come."""
        wake = asyncio.Event()
        self._waiters.add(wake)
        try:
            while True:
                wake.clear()
                try:
                    batch = await self.store.changes_after(cursor, org_id)
                except Unavailable as exc:  # the database is busy: the stream waits, not ends
                    log.warning("alert_stream_read_failed", error=str(exc))
                    await asyncio.sleep(self.poll_s)
                    continue
                for seq, change, alert in batch:
                    cursor = seq
                    yield seq, change, alert
                if len(batch) >= 500:
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), self.poll_s)
                except TimeoutError:
                    pass
        finally:
            self._waiters.discard(wake)
