"""SubscribeEvents: stored events replayed, then live ones from the bus, filtered.

The live subscription is opened *before* the replay query, so an event stored while
replaying is delivered live rather than lost; ids already replayed are skipped.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from rtcc.analytics import convert
from rtcc.analytics.events import BUS_SUBJECT
from rtcc.analytics.queries import EventQuery, cameras_in_scope
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.backends.bus import EventBus
from rtcc.common import time as wire_time
from rtcc.core.errors import InvalidArgument

MAX_REPLAY = timedelta(hours=24)


def matches(
    event: pb.Event, request: pb.SubscribeEventsRequest, cameras: frozenset[str] | None
) -> bool:
    """Whether a live event passes the subscriber's criteria and visibility."""
    return (
        (cameras is None or event.camera_id in cameras)
        and (not request.classes or event.object_class in request.classes)
        and (not request.types or event.type in request.types)
        and (not request.zone_ids or event.zone_id in request.zone_ids)
    )


async def subscribe(
    request: pb.SubscribeEventsRequest,
    allowed: frozenset[str] | None,
    store: AnalyticsStore,
    bus: EventBus,
) -> AsyncIterator[pb.SubscribeEventsResponse]:
    cameras = cameras_in_scope(allowed, list(request.camera_ids))
    now = datetime.now(UTC)
    start = wire_time.optional_datetime(request, "start_time")  # out of range: INVALID_ARGUMENT
    if start is not None and now - start > MAX_REPLAY:
        raise InvalidArgument("start_time may be at most 24 hours ago", field="start_time")
    durable = f"analytics-subscriber-{secrets.token_hex(6)}"
    subscription = await bus.subscribe(BUS_SUBJECT, durable=durable, queue=False)
    try:
        replayed: set[str] = set()
        if start is not None and start < now and (cameras is None or cameras):
            async for event in _replay(request, cameras, store, start, now):
                replayed.add(event.id)
                yield pb.SubscribeEventsResponse(event=event, replayed=True)
        async for message in subscription:
            await message.ack()
            event = pb.Event.FromString(message.data)
            if event.id not in replayed and matches(event, request, cameras):
                yield pb.SubscribeEventsResponse(event=event)
    finally:
        await subscription.close()


async def _replay(
    request: pb.SubscribeEventsRequest,
    cameras: frozenset[str] | None,
    store: AnalyticsStore,
    start: datetime,
    end: datetime,
) -> AsyncIterator[pb.Event]:
    """Stored events of [start, end), oldest first (pages are read newest first)."""
    pages: list[list[pb.Event]] = []
    token = ""
    while True:
        query = EventQuery(
            start,
            end,
            cameras,
            classes=list(request.classes),
            types=list(request.types),
            zone_ids=list(request.zone_ids),
            page_size=1000,
            page_token=token,
        )
        records, token = await store.search_events(query)
        pages.append([convert.event(r) for r in records])
        if not token:
            break
    for page in reversed(pages):
        for event in reversed(page):
            yield event
