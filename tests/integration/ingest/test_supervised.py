"""Ingest's background work under supervision: the uploader survives an unexpected
exception and a torn spool file, and a retention run that hits a disk error ends
FAILED instead of staying RUNNING."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from rtcc.backends.objectstore_file import FileObjectStore
from rtcc.ingest.recorder import UPLOADER_TASK, Recorder
from rtcc.ingest.retention import FAILED, Retention, retention_loop
from rtcc.ingest.segment import BUCKET, MAIN, ClosedSegment, epoch_ms, segment_id
from rtcc.ingest.spool import Spool
from rtcc.ingest.store import SegmentIndex

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _spool_segment(spool: Spool, camera_id: str, start: dt.datetime) -> ClosedSegment:
    seg = ClosedSegment(
        segment_id(camera_id, MAIN, start), camera_id, MAIN, start,
        start + dt.timedelta(seconds=4), 6, "00", "h264", 1280, 720, 15.0, 60, False,
    )  # fmt: skip
    part = spool.part_path(camera_id, MAIN, epoch_ms(start))
    part.write_bytes(b"media!")
    spool.commit(part, seg)
    return seg


async def test_the_uploader_comes_back_after_an_unexpected_exception(
    backends: Any, tmp_path: Path, wait_for: Any
) -> None:
    spool = Spool(tmp_path / "spool")
    index = SegmentIndex(backends.db)
    recorder = Recorder(spool, backends.objects, index, backends.bus)
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    seg = _spool_segment(spool, camera_id, T0)
    real_drain = recorder.uploader.drain
    calls = 0

    async def drain_with_a_bug_once() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("a bug in the uploader")
        return await real_drain()

    recorder.uploader.drain = drain_with_a_bug_once  # type: ignore[method-assign]
    await recorder.start()
    try:
        uploading = recorder._supervisor.tasks[UPLOADER_TASK]

        async def stored() -> bool:
            return await index.get(seg.id) is not None

        await wait_for(stored, within_s=10, what="the segment stored after the restart")
        assert (uploading.failures, uploading.restarts) == (1, 1)
        assert spool.pending() == []
    finally:
        await recorder.stop()


async def test_a_torn_description_is_set_aside_and_the_rest_of_the_spool_drains(
    backends: Any, tmp_path: Path, wait_for: Any
) -> None:
    spool = Spool(tmp_path / "spool")
    index = SegmentIndex(backends.db)
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    first = _spool_segment(spool, camera_id, T0)
    second = _spool_segment(spool, camera_id, T0 + dt.timedelta(seconds=4))
    torn = spool.stream_dir(camera_id, MAIN) / f"{epoch_ms(first.start_time)}.json"
    torn.write_text('{"id": "seg_')  # a power cut in the middle of a write
    recorder = Recorder(spool, backends.objects, index, backends.bus)
    await recorder.start()
    try:

        async def stored() -> bool:
            return await index.get(second.id) is not None

        await wait_for(stored, within_s=10, what="the readable segment stored")
        assert torn.with_suffix(".json.bad").exists()
        assert await index.get(first.id) is None
    finally:
        await recorder.stop()


async def test_a_retention_run_that_hits_a_disk_error_ends_failed_and_the_schedule_goes_on(
    database: Any, tmp_path: Path, wait_for: Any
) -> None:
    objects = FileObjectStore(tmp_path / "objects")
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    seg = ClosedSegment(
        segment_id(camera_id, MAIN, T0), camera_id, MAIN, T0, T0 + dt.timedelta(seconds=4),
        5, "00", "h264", 1280, 720, 15.0, 60, False,
    )  # fmt: skip
    await objects.ensure_bucket(BUCKET, object_lock=True)
    await objects.put(BUCKET, seg.object_key, b"fake!")
    await SegmentIndex(database).add(seg, now=T0, expire_time=T0 + dt.timedelta(days=1))
    # The object's metadata file becomes unreadable (a directory where a file should be):
    # deleting the object raises an OSError from the disk, not an RtccError.
    sidecar = tmp_path / "objects" / ".rtcc" / "meta" / BUCKET / f"{seg.object_key}.json"
    sidecar.unlink(missing_ok=True)
    sidecar.mkdir(parents=True)

    retention = Retention(database, objects)
    run = await retention.start("test", T0 + dt.timedelta(days=2))
    done = await retention.execute(run)
    assert done.state == FAILED
    assert "IsADirectoryError" in done.error
    assert (await retention.get(run.id)).state == FAILED
    assert not retention.running

    # The hourly schedule keeps going after a failed run (each pass records a run).
    stop = asyncio.Event()
    loop = asyncio.create_task(retention_loop(retention, stop, every_s=0.05))
    try:

        async def two_more_runs() -> bool:
            runs = await retention.list(50, None)
            return sum(r.trigger == "schedule" and r.state == FAILED for r in runs) >= 2

        await wait_for(two_more_runs, within_s=10, what="two scheduled runs recorded")
    finally:
        stop.set()
        await loop
