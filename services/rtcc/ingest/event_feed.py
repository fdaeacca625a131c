"""Follow analytics events on the bus (`rtcc.analytics.event`) into event windows.

Every replica reads every event (a private consumer): the one recording the camera
holds its spooled segments. On start it reads back the events of the last few minutes,
so a restarted replica still knows the windows of segments left in its spool.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import structlog

from rtcc.backends.bus import EventBus
from rtcc.ingest.event_windows import EventWindows

log = structlog.get_logger("rtcc.ingest.event_feed")

SUBJECT = "rtcc.analytics.event"
LOOKBACK = dt.timedelta(minutes=5)


def decode(data: bytes) -> tuple[str, dt.datetime, dt.datetime | None] | None:
    """(camera id, event time, start time) of an analytics Event message, or None."""
    from google.protobuf.message import DecodeError

    from rtcc.analytics.v1 import analytics_pb2

    event = analytics_pb2.Event()
    try:
        event.ParseFromString(data)
    except DecodeError:
        return None
    if not event.camera_id or not event.HasField("event_time"):
        return None
    when = event.event_time.ToDatetime(dt.UTC)
    start = event.start_time.ToDatetime(dt.UTC) if event.HasField("start_time") else None
    return event.camera_id, when, start


async def follow_events(
    bus: EventBus, windows: EventWindows, on_event: Callable[[], None], stop: asyncio.Event
) -> None:
    """Add each event's window; call `on_event` after each; resubscribe on failure."""
    while not stop.is_set():
        try:
            subscription = await bus.subscribe(
                SUBJECT,
                durable="ingest-event-windows",
                queue=False,
                deliver_from=dt.datetime.now(dt.UTC) - LOOKBACK,
            )
            windows.feed_since = dt.datetime.now(dt.UTC)
            try:
                async for message in subscription:
                    await message.ack()
                    decoded = decode(message.data)
                    if decoded is None:
                        log.warning("analytics_event_unreadable", seq=message.seq)
                        continue
                    windows.add(*decoded)
                    on_event()
            finally:
                windows.feed_since = None
                await subscription.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # bus away: segments wait in the spool meanwhile
            log.warning("analytics_event_follow_failed", error=str(exc))
            try:
                await asyncio.wait_for(stop.wait(), 5.0)
            except TimeoutError:
                pass
