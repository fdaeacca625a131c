"""Retention deletes expired segments, never those under legal hold."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from rtcc.ingest.retention import SUCCEEDED, Retention
from rtcc.ingest.segment import BUCKET, MAIN, ClosedSegment, segment_id
from rtcc.ingest.store import SegmentIndex

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def _store_segment(backends: Any, camera_id: str, start: dt.datetime, days: int) -> Any:
    seg = ClosedSegment(
        segment_id(camera_id, MAIN, start), camera_id, MAIN, start,
        start + dt.timedelta(seconds=4), 5, "00", "h264", 1280, 720, 15.0, 60, False,
    )  # fmt: skip
    await backends.objects.ensure_bucket(BUCKET, object_lock=True)
    await backends.objects.put(BUCKET, seg.object_key, b"fake!")
    await SegmentIndex(backends.db).add(seg, now=start, expire_time=start + dt.timedelta(days=days))
    return seg


async def test_expired_segments_go_but_those_under_legal_hold_stay(
    backends: Any, tmp_path: Path
) -> None:
    camera_id = f"cam_{uuid.uuid4().hex[:10]}"
    old = await _store_segment(backends, camera_id, T0, days=7)
    held = await _store_segment(backends, camera_id, T0 + dt.timedelta(seconds=4), days=7)
    fresh = await _store_segment(backends, camera_id, T0 + dt.timedelta(days=6), days=7)
    await backends.objects.set_legal_hold(BUCKET, held.object_key, True)

    retention = Retention(backends.db, backends.objects)
    run = await retention.start("test", T0 + dt.timedelta(days=8))
    done = await retention.execute(run)

    assert done.state == SUCCEEDED
    assert (done.segments_deleted, done.segments_held) == (1, 1)
    assert done.bytes_deleted == 5
    index = SegmentIndex(backends.db)
    assert await index.get(old.id) is None
    assert await index.get(held.id) is not None and await index.get(fresh.id) is not None
    assert await backends.objects.get(BUCKET, held.object_key) == b"fake!"
    assert (await retention.get(run.id)).segments_held == 1
