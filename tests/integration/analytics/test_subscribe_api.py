"""SubscribeEvents over gRPC: stored events replayed, then live ones, only visible ones."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import timestamp_pb2

from rtcc.analytics.events import DetectedEvent
from rtcc.analytics.records import EventRecord
from rtcc.analytics.sink import StoringSink
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.analytics.v1 import analytics_pb2_grpc as pbg
from rtcc.backends.database import Database

from .test_search_api import _org_with_camera


def _event(camera_id: str, org_id: str, when: datetime, object_class: int = 1) -> EventRecord:
    return EventRecord(
        f"evt_{secrets.token_hex(8)}", camera_id, org_id, 1, object_class, "1", 0.9, when, when,
        (0.1, 0.1, 0.2, 0.2),
    )  # fmt: skip


async def test_replay_then_live_events_of_visible_cameras_only(
    database: Database, platform_factory: Callable[..., Any]
) -> None:
    async with platform_factory(targets=["registry", "analytics"], database=database) as p:
        org_a, cam_a = await _org_with_camera(p)
        org_b, cam_b = await _org_with_camera(p)
        runtime = p.platform.runtime
        sink = StoringSink(AnalyticsStore(database), runtime.objects, runtime.bus)
        now = datetime.now(UTC)
        old = _event(cam_a, org_a, now - timedelta(minutes=5))
        await sink.publish(DetectedEvent(old))
        start = timestamp_pb2.Timestamp()
        start.FromDatetime(now - timedelta(minutes=10))
        token = p.token(org_a, ["operator"])
        analytics = pbg.AnalyticsServiceStub(p.channel(token))
        # rtcc.core.clients attaches tokens to unary calls only: streams carry their own.
        stream = analytics.SubscribeEvents(
            pb.SubscribeEventsRequest(start_time=start, classes=[pb.OBJECT_CLASS_PERSON]),
            metadata=(("authorization", f"Bearer {token}"),),
        )
        first = await stream.read()
        assert (first.event.id, first.replayed) == (old.id, True)

        hidden = _event(cam_b, org_b, datetime.now(UTC))
        a_car = _event(cam_a, org_a, datetime.now(UTC), object_class=2)
        live = _event(cam_a, org_a, datetime.now(UTC))
        for record in (hidden, a_car, live):
            await sink.publish(DetectedEvent(record))
        async with asyncio.timeout(10):
            second = await stream.read()
        assert (second.event.id, second.replayed) == (live.id, False)
        stream.cancel()
