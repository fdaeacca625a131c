"""The storing sink on every backend: snapshot stored, rows written, event on the bus."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from datetime import timedelta
from typing import Any

from rtcc.analytics.analysis import CameraAnalyser, CameraSetup, DetectorSet
from rtcc.analytics.detection import ObjectClass
from rtcc.analytics.detectors.plates import PlateDetector
from rtcc.analytics.events import BUS_SUBJECT, CollectingSink
from rtcc.analytics.pipeline import CameraPipeline
from rtcc.analytics.queries import EventQuery
from rtcc.analytics.sink import BUCKET, StoringSink
from rtcc.analytics.store import AnalyticsStore
from rtcc.analytics.v1 import analytics_pb2 as pb
from rtcc.backends.bus import EventBus
from rtcc.backends.database import Database
from rtcc.backends.objectstore import ObjectStore
from rtcc.core.ids import new_id

from ...unit.analytics.synthetic import T0, BlobDetector, Mover, frames

CAR = Mover(ObjectClass.VEHICLE, (0, 0, 200), (20, 150), (100, 0), (200, 110), "LZP6729")


async def _frames(camera_frames):  # type: ignore[no-untyped-def]
    for item in camera_frames:
        yield item


async def test_pipeline_events_are_stored_with_snapshots_and_published(
    database: Database, object_store: ObjectStore, bus: EventBus
) -> None:
    camera = f"cam_{secrets.token_hex(6)}"
    subscription = await bus.subscribe(BUS_SUBJECT, durable=new_id("test").replace("_", "-"))
    store = AnalyticsStore(database)
    analyser = CameraAnalyser(
        CameraSetup(camera, "org_1"), DetectorSet(objects=BlobDetector(), plates=PlateDetector())
    )
    pipeline = CameraPipeline(analyser, StoringSink(store, object_store, bus), queue_size=50)
    await pipeline.run(_frames(frames([CAR], 2.0)))

    stored, _ = await store.search_events(
        EventQuery(T0 - timedelta(minutes=1), T0 + timedelta(minutes=1), frozenset({camera}))
    )
    assert {e.type for e in stored} == {1, 6}  # appeared, plate read
    plate_event = next(e for e in stored if e.type == 6)
    read = await store.get_plate_read(plate_event.plate_read_id, frozenset({camera}))
    assert read.plate == "LZP6729" and read.snapshot_key == plate_event.snapshot_key
    assert (await object_store.get(BUCKET, plate_event.snapshot_key)).startswith(b"\xff\xd8")

    published: set[str] = set()
    async with asyncio.timeout(10):
        async for message in subscription:
            event = pb.Event.FromString(message.data)
            await message.ack()
            if event.camera_id == camera:
                published.add(event.id)
            if published >= {e.id for e in stored}:
                break
    await subscription.close()


class _GatedObjects:
    """The real object store, with its next put held until the test opens the gate."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects
        self.entered, self.gate = asyncio.Event(), asyncio.Event()

    async def ensure_bucket(self, bucket: str) -> None:
        await self._objects.ensure_bucket(bucket)

    async def put(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.entered.set()
        await self.gate.wait()
        return await self._objects.put(*args, **kwargs)


async def test_an_event_on_its_way_when_the_camera_stops_is_stored_and_announced(
    database: Database, object_store: ObjectStore, bus: EventBus
) -> None:
    camera = f"cam_{secrets.token_hex(6)}"
    collected = CollectingSink()
    analyser = CameraAnalyser(CameraSetup(camera, "org_1"), DetectorSet(objects=BlobDetector()))
    await CameraPipeline(analyser, collected, queue_size=50).run(_frames(frames([CAR], 2.0)))
    event = next(e for e in collected.events if e.snapshot_jpeg)
    subscription = await bus.subscribe(BUS_SUBJECT, durable=new_id("test").replace("_", "-"))
    store, gated = AnalyticsStore(database), _GatedObjects(object_store)
    sink = StoringSink(store, gated, bus)  # type: ignore[arg-type]

    publishing = asyncio.create_task(sink.publish(event))
    await gated.entered.wait()
    publishing.cancel()  # the camera stops (drain, hand-over) mid-way
    gated.gate.set()
    try:
        await publishing
        raise AssertionError("the cancellation should reach the caller once the event is done")
    except asyncio.CancelledError:
        pass

    await _stored_once_and_announced(store, subscription, camera, event.event.id)


class _FlakyBus:
    """The real bus, whose first publish fails after reaching the server (a lost ack)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self.failed = False

    async def publish(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = await self._bus.publish(*args, **kwargs)
        if not self.failed:
            self.failed = True
            raise TimeoutError("publish acknowledgement timed out")
        return result


async def test_an_event_published_again_after_a_lost_ack_is_stored_once_and_announced(
    database: Database, object_store: ObjectStore, bus: EventBus
) -> None:
    camera = f"cam_{secrets.token_hex(6)}"
    collected = CollectingSink()
    analyser = CameraAnalyser(CameraSetup(camera, "org_1"), DetectorSet(objects=BlobDetector()))
    await CameraPipeline(analyser, collected, queue_size=50).run(_frames(frames([CAR], 2.0)))
    event = collected.events[0]
    subscription = await bus.subscribe(BUS_SUBJECT, durable=new_id("test").replace("_", "-"))
    store, flaky = AnalyticsStore(database), _FlakyBus(bus)
    sink = StoringSink(store, object_store, flaky)  # type: ignore[arg-type]
    try:
        await sink.publish(event)
        raise AssertionError("the first publish should fail")
    except TimeoutError:
        pass
    await sink.publish(event)  # the pipeline's retry: its rows are already there

    await _stored_once_and_announced(store, subscription, camera, event.event.id)


async def _stored_once_and_announced(
    store: AnalyticsStore, subscription: Any, camera: str, event_id: str
) -> None:
    stored, _ = await store.search_events(
        EventQuery(T0 - timedelta(minutes=1), T0 + timedelta(minutes=1), frozenset({camera}))
    )
    assert [e.id for e in stored] == [event_id]
    async with asyncio.timeout(10):
        async for message in subscription:
            await message.ack()
            if pb.Event.FromString(message.data).id == event_id:
                break
    await subscription.close()


class _DeadBus:
    """A bus the replica dies on: the publish never reaches the server (SIGKILL between
    storing an event and announcing it)."""

    async def publish(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("the replica was killed")


async def test_the_next_holder_announces_what_a_killed_holder_stored_and_nothing_twice(
    database: Database, object_store: ObjectStore, bus: EventBus
) -> None:
    camera = f"cam_{secrets.token_hex(6)}"
    collected = CollectingSink()
    analyser = CameraAnalyser(CameraSetup(camera, "org_1"), DetectorSet(objects=BlobDetector()))
    await CameraPipeline(analyser, collected, queue_size=50).run(_frames(frames([CAR], 2.0)))
    announced = collected.events[0]
    later = dataclasses.replace(
        announced.event,
        id=new_id("evt"),
        event_time=announced.event.event_time + timedelta(seconds=1),
    )
    orphan = dataclasses.replace(announced, event=later)
    subscription = await bus.subscribe(BUS_SUBJECT, durable=new_id("test").replace("_", "-"))
    store = AnalyticsStore(database)
    await StoringSink(store, object_store, bus).publish(announced)
    dying = StoringSink(store, object_store, _DeadBus())  # type: ignore[arg-type]
    try:
        await dying.publish(orphan)
        raise AssertionError("the dying replica's publish should fail")
    except ConnectionError:
        pass

    taker = StoringSink(store, object_store, bus)
    sent = await taker.reannounce(camera, now=orphan.event.event_time + timedelta(seconds=15))
    assert sent == 2
    marker = new_id("evt")
    await bus.publish(BUS_SUBJECT, pb.Event(id=marker, camera_id=camera).SerializeToString())

    seen: list[str] = []
    async with asyncio.timeout(10):
        async for message in subscription:
            await message.ack()
            event = pb.Event.FromString(message.data)
            if event.camera_id != camera:
                continue
            if event.id == marker:
                break
            seen.append(event.id)
    await subscription.close()
    assert sorted(seen) == sorted([announced.event.id, orphan.event.id])  # each once
