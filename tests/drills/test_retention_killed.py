"""Drill: a retention run is under way when its process is killed with SIGKILL. The
run's row says RUNNING, and nobody will ever finish it; at the next start of the
server (and before every scheduled pass of any replica), a run that no live process
beats for is marked FAILED ("interrupted"), and the next run deletes what is left.

The run (the schedule's first pass at a start) is made long enough to be killed mid-way
by indexing a few thousand segments whose retention ended, as a camera with a short
retention leaves them, while the server is stopped."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import sqlalchemy as sa

from rtcc.backends.database import open_database
from rtcc.backends.objectstore_file import FileObjectStore
from rtcc.ingest import tables
from rtcc.ingest.retention import FAILED, INTERRUPTED, RUNNING, SUCCEEDED
from rtcc.ingest.segment import BUCKET, CONTENT_TYPE, object_key, segment_id

EXPIRED = 1500


async def test_a_run_left_running_by_a_killed_process_is_failed_at_the_next_start(
    deployment: Any, wait_for: Any
) -> None:
    objects_root = deployment.root / "objects"
    server = deployment.server(
        "retention-node", "registry,ingest", RTCC_OBJECT_STORE_URL=f"file://{objects_root}"
    )
    await server.start()
    await server.wait_serving()  # the schema is made
    await server.stop()
    db = await open_database(f"sqlite:///{server.data_dir / 'rtcc.db'}")
    r = tables.retention_runs
    # The segments' bucket, as the first recording makes it (the objects are gone).
    await FileObjectStore(objects_root).ensure_bucket(BUCKET, object_lock=True)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    rows = []
    for n in range(EXPIRED):
        begin = start + dt.timedelta(seconds=4 * n)
        rows.append(
            {"id": segment_id("cam-expired", 1, begin), "camera_id": "cam-expired", "stream": 1,
             "start_time": begin, "end_time": begin + dt.timedelta(seconds=4),
             "object_key": object_key("cam-expired", 1, begin), "content_type": CONTENT_TYPE,
             "size_bytes": 1000, "sha256": "0" * 64, "video_codec": "h264", "width": 640,
             "height": 360, "frame_rate": 15.0, "discontinuity": False, "create_time": begin,
             "expire_time": begin + dt.timedelta(days=30)}
        )  # fmt: skip
    async with db.transaction() as conn:
        await conn.execute(tables.segments.insert(), rows)

    async def count() -> int:
        t = tables.segments
        async with db.transaction(readonly=True) as conn:
            query = sa.select(sa.func.count()).where(t.c.camera_id == "cam-expired")
            return int((await conn.execute(query)).scalar_one())

    async def run_row(run_id: str) -> Any:
        async with db.transaction(readonly=True) as conn:
            return (await conn.execute(sa.select(r).where(r.c.id == run_id))).one()

    async def running() -> str:
        async with db.transaction(readonly=True) as conn:
            rows = (await conn.execute(sa.select(r).where(r.c.state == RUNNING))).all()
        return str(rows[0].id) if rows and await count() < EXPIRED - 20 else ""

    try:
        # The schedule's first pass, at the next start, is the long run.
        await server.start()
        run_id = await wait_for(running, within_s=60, what="a run deleting")
        await server.kill()  # mid-run: no finish, no cancellation handler
        left = await count()
        assert 0 < left < EXPIRED, left
        assert (await run_row(run_id)).state == RUNNING, "the killed run was left RUNNING"
        killed = time.monotonic()
        await server.start()
        await server.wait_serving()

        async def failed() -> bool:
            return bool((await run_row(run_id)).state == FAILED)

        await wait_for(failed, within_s=30, what="the interrupted run marked FAILED")
        failed_s = time.monotonic() - killed
        await wait_for(lambda: _below(count, 1), within_s=60, what="the next run deleting")

        async def later_runs() -> list[Any]:
            async with db.transaction(readonly=True) as conn:
                return list((await conn.execute(sa.select(r).where(r.c.id != run_id))).all())

        async def finished() -> bool:
            # The last segment can go before that run writes its counters and ends.
            runs = await later_runs()
            return bool(runs) and all(run.state != RUNNING for run in runs)

        await wait_for(finished, within_s=30, what="the next run finishing")
        row = await run_row(run_id)
        later = await later_runs()
    finally:
        await deployment.stop()
        await db.close()
    assert row.error == INTERRUPTED and row.end_time is not None
    assert all(run.state == SUCCEEDED for run in later), later
    assert sum(run.segments_deleted for run in later) >= left - 1, (left, later)
    print(
        f"\nkilled with {left} of {EXPIRED} expired segments left; the run FAILED "
        f"{failed_s:.1f} s after the kill (restart included); the next run deleted the rest"
    )


async def _below(count: Any, limit: int) -> bool:
    return bool(await count() < limit)
