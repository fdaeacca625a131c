"""What several drills share: a fresh PostgreSQL database, followers of the real bus
(segments and analytics events published), the per-camera audit of a window
(segments expected, indexed, stored, published; the holes in the index), and the
alerts an alert rule raised from the drill's events."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from google.protobuf import duration_pb2
from sqlalchemy.engine import make_url

from rtcc.alerting import tables as alerting_tables
from rtcc.alerting.v1 import alerting_pb2 as alpb
from rtcc.alerting.v1 import alerting_pb2_grpc as alpb_grpc
from rtcc.analytics import tables as analytics_tables
from rtcc.analytics.v1 import analytics_pb2 as apb
from rtcc.analytics.v1 import analytics_pb2_grpc as apb_grpc
from rtcc.backends.bus import EventBus
from rtcc.backends.database import Database
from rtcc.backends.objectstore import ObjectStore
from rtcc.core.clients import open_channel
from rtcc.ingest.segment import BUCKET, MAIN, find_gaps
from rtcc.ingest.store import SegmentIndex
from rtcc.sim.simulator import Simulator

from .conftest import SegmentAudit

SEGMENT_S = 4.0
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


async def fresh_database(admin_url: str) -> str:
    """A new, empty database on the shared PostgreSQL server (one per drill)."""
    name = f"rtcc_drill_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return str(make_url(admin_url).set(database=name).render_as_string(hide_password=False))


async def follow(
    bus: EventBus, subject: str, into: list[str], key: Callable[[bytes], str], since: dt.datetime
) -> None:
    """Every message on `subject` from `since` on, by `key` (duplicates kept)."""
    subscription = await bus.subscribe(
        subject, durable=f"drill-{uuid.uuid4().hex[:8]}", queue=False, deliver_from=since
    )
    async for message in subscription:
        into.append(key(message.data))
        await message.ack()


def segment_key(data: bytes) -> str:
    return str(json.loads(data)["segment_id"])


def event_key(data: bytes) -> str:
    event = apb.Event()
    event.ParseFromString(data)
    return str(event.id)


class Followers:
    """Background followers of the bus; `close()` ends them."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, bus: EventBus, subject: str, key: Callable[[bytes], str]) -> list[str]:
        into: list[str] = []
        # From now, not earlier: the bus outlives a drill, and an earlier drill's messages
        # (its cameras, its events) are not this drill's to count.
        since = dt.datetime.now(dt.UTC)
        self.tasks.append(asyncio.create_task(follow(bus, subject, into, key, since)))
        return into

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def audit(
    db: Database,
    objects: ObjectStore,
    published: list[str],
    camera_id: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    tolerance_s: float = 0.3,
) -> SegmentAudit:
    """One camera's window: expected (its length over the segment length), indexed,
    stored (objects present), published (on the bus), and the holes in the index."""
    segments = await SegmentIndex(db).overlapping(camera_id, MAIN, start, end)
    keys = {s.object_key for s in segments}
    stored = 0
    async for info in objects.list(BUCKET, prefix=f"{camera_id}/"):
        stored += info.key in keys
    holes = find_gaps(
        [(s.start_time, s.end_time) for s in segments], start, end,
        tolerance=dt.timedelta(seconds=tolerance_s),
    )  # fmt: skip
    return SegmentAudit(
        camera_id,
        expected=round((end - start).total_seconds() / SEGMENT_S),
        indexed=len(segments),
        stored=stored,
        published=len({s.id for s in segments} & set(published)),
        holes=[
            (round((h.start_time - start).total_seconds(), 2),
             round((h.end_time - h.start_time).total_seconds(), 2))
            for h in holes
        ],
    )  # fmt: skip


async def segments_of(db: Database, camera_id: str) -> list[Any]:
    found = await SegmentIndex(db).overlapping(camera_id, MAIN, EPOCH, FAR)
    return sorted(found, key=lambda s: s.start_time)


# Natural footage (people walking) that the real detectors detect, cached where the
# simulator's unit tests keep it: analytics drills need events from real detectors.
STREET_CACHE = Path(os.environ.get("RTCC_TOOLS") or Path.home() / ".cache" / "rtcc") / "sim"


def street_simulator(cameras: int) -> Simulator:
    from rtcc.sim.street import render_street

    return Simulator(cameras, STREET_CACHE, renderer=render_street, variants=cameras)


async def enable_analytics(address: str, token: str, camera_ids: list[str]) -> None:
    """Object detection at 2 fps on each camera (as the demo runs on a 2-core node)."""
    async with open_channel(address, lambda: token) as channel:
        stub = apb_grpc.AnalyticsServiceStub(channel)
        for camera_id in camera_ids:
            config = apb.DetectorConfig(
                camera_id=camera_id, enabled=True, fps=2.0, detectors=[apb.DETECTOR_TYPE_OBJECT]
            )
            await stub.UpdateDetectorConfig(
                apb.UpdateDetectorConfigRequest(detector_config=config), timeout=30
            )


async def stored_events(db: Database, camera_ids: list[str]) -> list[Any]:
    """Every stored event of the cameras: (id, camera_id, event_time) rows."""
    e = analytics_tables.events
    query = sa.select(e.c.id, e.c.camera_id, e.c.event_time).where(e.c.camera_id.in_(camera_ids))
    async with db.transaction(readonly=True) as conn:
        return list((await conn.execute(query)).all())


async def alert_on_every_event(address: str, token: str, window_s: float = 10.0) -> str:
    """An alert rule for every analytics event of the organisation (triggers at one
    camera within ``window_s`` join one alert, so no alert reaches the trigger list's
    cap of 100); its id."""
    rule = alpb.Rule(
        display_name="Drill: every event",
        enabled=True,
        analytics_event=alpb.AnalyticsEventTrigger(),
        correlation_window=duration_pb2.Duration(seconds=int(window_s)),
    )
    async with open_channel(address, lambda: token) as channel:
        stub = alpb_grpc.AlertingServiceStub(channel)
        reply = await stub.CreateRule(alpb.CreateRuleRequest(rule=rule), timeout=30)
    return str(reply.rule.id)


async def alert_triggers(db: Database, rule_id: str) -> tuple[int, dict[str, int]]:
    """(alerts the rule raised, event id -> times it is a trigger of one of them);
    fails when an alert's triggers are not all listed (the list is capped at 100)."""
    a = alerting_tables.alerts
    query = sa.select(a.c.id, a.c.triggers, a.c.trigger_count).where(a.c.rule_id == rule_id)
    async with db.transaction(readonly=True) as conn:
        rows = list((await conn.execute(query)).all())
    counts: dict[str, int] = {}
    for alert_id, triggers, count in rows:
        assert len(triggers) == count, f"alert {alert_id}: {count} triggers, {len(triggers)} listed"
        for trigger in triggers:
            counts[trigger["id"]] = counts.get(trigger["id"], 0) + 1
    return len(rows), counts
