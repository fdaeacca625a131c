"""No loss on faults: object storage outages, a killed recorder, repeated uploads."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.backends.objectstore import open_object_store
from rtcc.ingest.recorder import Recorder
from rtcc.ingest.segment import BUCKET, MAIN, ClosedSegment, epoch_ms
from rtcc.ingest.session import CameraSource, SessionSettings
from rtcc.ingest.spool import USED_RECHECK_S, Spool
from rtcc.ingest.store import SegmentIndex
from rtcc.ingest.uploader import Uploader

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

pytestmark = pytest.mark.minio


async def _backends(tmp_path: Path, object_url: str) -> tuple[Any, Any, Any]:
    db = await open_database(f"sqlite:///{tmp_path / 'rtcc.db'}")
    await db.migrate()
    return db, open_object_store(object_url), await open_bus("memory://")


def _recorder(spool: Spool, objects: Any, db: Any, bus: Any) -> Recorder:
    recorder = Recorder(
        spool, objects, SegmentIndex(db), bus, settings=SessionSettings(segment_s=2.0)
    )
    recorder.uploader.retry_initial_s = 0.2
    recorder.uploader.retry_max_s = 1.0
    return recorder


async def test_segments_spool_during_object_store_outage_and_upload_in_order_after(
    simulator: Any, minio_proxy: Any, tmp_path: Path, wait_for: Any
) -> None:
    proxy, url = minio_proxy
    db, objects, bus = await _backends(tmp_path, url)
    index = SegmentIndex(db)
    spool = Spool(tmp_path / "spool")
    recorder = _recorder(spool, objects, db, bus)
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    await recorder.start()
    await recorder.ensure([CameraSource(camera_id, simulator.cameras[1].main_url)])

    async def indexed() -> int:
        return len(await index.overlapping(camera_id, MAIN, EPOCH, FAR))

    try:
        await wait_for(lambda: indexed(), within_s=30, what="a first stored segment")
        await proxy.down()
        await wait_for(lambda: len(spool.pending()) >= 3, within_s=30, what="3 spooled segments")
        assert recorder.uploader.last_error, "the outage must be reported"
        before = await indexed()
        await proxy.up()
        await wait_for(lambda: not spool.pending(), within_s=30, what="the spool to drain")
        assert await indexed() >= before + 3
    finally:
        await recorder.stop()
    segments = await index.overlapping(camera_id, MAIN, EPOCH, FAR)
    for a, b in itertools.pairwise(segments):
        assert b.start_time == a.end_time, "no segment may be lost in the outage"
    for seg in segments:
        assert (await objects.stat(BUCKET, seg.object_key)).size == seg.size_bytes
    await objects.close()
    await db.close()


async def test_restarted_recorder_drains_the_spool_without_loss_or_duplication(
    simulator: Any, minio_proxy: Any, tmp_path: Path, wait_for: Any
) -> None:
    proxy, url = minio_proxy
    db, objects, bus = await _backends(tmp_path, url)
    index = SegmentIndex(db)
    spool = Spool(tmp_path / "spool")
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    subscription = await bus.subscribe(
        "rtcc.segment.created", durable=f"t{uuid.uuid4().hex[:8]}", queue=False
    )
    first = _recorder(spool, objects, db, bus)
    await first.start()
    await proxy.down()
    await first.ensure([CameraSource(camera_id, simulator.cameras[2].main_url)])
    await wait_for(lambda: len(spool.pending()) >= 3, within_s=30, what="3 spooled segments")
    await first.stop(drain_timeout_s=0.1)  # dies with its spool full
    spooled = spool.pending()
    # A segment whose object was stored before the crash, but never indexed.
    await proxy.up()
    await objects.ensure_bucket(BUCKET, object_lock=True)
    await objects.put_file(BUCKET, spooled[0].segment.object_key, spooled[0].media)
    (spool.stream_dir(camera_id, MAIN) / "123.mp4.part").write_bytes(b"half a segment")

    second = _recorder(spool, objects, db, bus)
    await second.start()
    try:
        await wait_for(lambda: not spool.pending(), within_s=30, what="the spool to drain")
    finally:
        await second.stop()
    segments = await index.overlapping(camera_id, MAIN, EPOCH, FAR)
    assert [s.id for s in segments] == [item.segment.id for item in spooled]
    assert not list(spool.root.rglob("*.part"))
    ids = []
    async for message in subscription:
        ids.append(message.data)
        await message.ack()
        if len(ids) == len(spooled):
            break
    assert len(set(ids)) == len(spooled)
    await subscription.close()
    await objects.close()
    await db.close()
    await bus.close()


async def test_a_drain_pass_indexes_its_segments_once_and_links_them_into_the_file_store(
    tmp_path: Path,
) -> None:
    db, objects, bus = await _backends(tmp_path, f"file://{tmp_path / 'objects'}")
    spool, index = Spool(tmp_path / "spool"), SegmentIndex(db)
    segments = []
    for n in range(4):
        start = EPOCH + dt.timedelta(seconds=4 * n)
        seg = ClosedSegment(
            id=f"seg_{uuid.uuid4().hex}",
            camera_id=f"cam_{n % 2}",
            stream=MAIN,
            start_time=start,
            end_time=start + dt.timedelta(seconds=4),
            size_bytes=9,
            sha256=hashlib.sha256(f"segment {n}".encode()).hexdigest(),
            video_codec="h264",
            width=1280,
            height=720,
            frame_rate=15.0,
            frames=60,
            discontinuity=False,
        )
        part = spool.part_path(seg.camera_id, MAIN, epoch_ms(start))
        part.write_bytes(f"segment {n}".encode())
        spool.commit(part, seg)
        segments.append(seg)
    # A crash after the first segment was indexed, before it left the spool.
    assert await index.add(segments[0], now=EPOCH, expire_time=None)
    uploader = Uploader(spool, objects, index, bus)
    assert await uploader.drain() == 0
    assert not spool.pending() and uploader.stored == 4
    for n, seg in enumerate(segments):
        assert [s.id for s in await index.overlapping(seg.camera_id, MAIN, EPOCH, FAR)] == [
            s.id for s in segments if s.camera_id == seg.camera_id
        ]
        assert await objects.get(BUCKET, seg.object_key) == f"segment {n}".encode()
        stored = tmp_path / "objects" / BUCKET / seg.object_key
        assert stored.stat().st_nlink == 1 and not stored.stat().st_mode & 0o222
    assert await index.add_many([(s, None) for s in segments], now=EPOCH) == [False] * 4
    await bus.close()
    await db.close()


def test_a_file_gone_while_the_spool_is_measured_counts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another camera's session or the uploader removes files while a session asks for
    # room: the file below is listed, and gone by the time it is measured.
    spool = Spool(tmp_path / "spool")
    folder = tmp_path / "spool" / "cam_a" / "1"
    folder.mkdir(parents=True)
    (folder / "1.mp4").write_bytes(b"x" * 1000)
    going = folder / "2.mp4.part-meta"
    going.write_bytes(b"{}")
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        with real_scandir(path) as listing:
            entries = _Listing(listing)  # listed (the file is there), then it is removed
        going.unlink(missing_ok=True)
        return entries

    monkeypatch.setattr("rtcc.ingest.spool.os.scandir", scandir)
    assert spool.used_bytes() in (1000, 1002)  # counted 0 or its size, never raised
    assert spool.has_room()


class _Listing(list[Any]):
    """A directory listing already read, used as `os.scandir`'s result is."""

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def test_the_spool_is_measured_at_most_once_a_second_when_sessions_ask_for_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every session asks at every segment: the spool is listed once per USED_RECHECK_S,
    # not once per question (a listing per segment grows with the square of cameras).
    clock = [1000.0]
    monkeypatch.setattr("rtcc.ingest.spool.time.monotonic", lambda: clock[0])
    spool = Spool(tmp_path / "spool", max_bytes=1000, reserve_bytes=0)
    listings = [0]
    measure = spool.used_bytes

    def counted() -> int:
        listings[0] += 1
        return measure()

    monkeypatch.setattr(spool, "used_bytes", counted)
    assert spool.has_room()
    folder = spool.stream_dir("cam_a", 1)
    (folder / "1.mp4").write_bytes(b"x" * 1000)
    assert all(spool.has_room() for _ in range(50)), "within the second: the last measure"
    assert listings[0] == 1
    clock[0] += USED_RECHECK_S
    assert not spool.has_room() and "limit of 1000 bytes" in spool.full_reason
    assert listings[0] == 2
