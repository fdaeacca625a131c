"""Drill: the all-in-one server is killed with SIGKILL while it records, and started
again on the same data. It must take its cameras back at once (same replica id: no
wait for its old leases to expire), keep the segment in progress up to its last
whole fragment, and leave a gap no longer than its restart plus one keyframe
interval (plus the RTSP connection)."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

from rtcc.backends.database import open_database
from rtcc.ingest.recovery import whole_fragments_end
from rtcc.ingest.segment import MAIN, epoch_ms
from rtcc.ingest.store import SegmentIndex

from .conftest import KEYFRAME_S

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
ALL_IN_ONE = "all"
# Opening an RTSP session to the camera and reading its first packets.
CONNECT_S = 1.0


async def test_kill_9_and_restart_on_the_same_data_loses_only_the_restart(
    deployment: Any, drill_cameras: Any, wait_for: Any
) -> None:
    server = deployment.server("all-in-one", ALL_IN_ONE)
    await server.start()
    await server.wait_serving()
    _, ids = await deployment.register(server.address, drill_cameras)
    db = await open_database(f"sqlite:///{server.data_dir / 'rtcc.db'}")
    index = SegmentIndex(db)
    spool = server.data_dir / "ingest-spool"

    async def segments(camera_id: str) -> list[Any]:
        return sorted(
            await index.overlapping(camera_id, MAIN, EPOCH, FAR), key=lambda s: s.start_time
        )

    async def indexed(count: int, after: dt.datetime = EPOCH) -> bool:
        for camera_id in ids:
            if sum(s.start_time >= after for s in await segments(camera_id)) < count:
                return False
        return True

    def writing() -> dict[str, int]:
        """Per camera, the start (ms) of the segment being written, once it has a
        whole fragment on disk."""
        found = {}
        for camera_id in ids:
            for part in (spool / camera_id / str(MAIN)).glob("*.part"):
                if whole_fragments_end(part) > 0:
                    found[camera_id] = int(part.name.split(".")[0])
        return found

    try:
        await wait_for(lambda: indexed(2), within_s=60, what="2 segments of each camera")
        await wait_for(lambda: len(writing()) == len(ids), within_s=10, what="open segments")
        in_progress = writing()
        await server.kill()
        killed = dt.datetime.now(dt.UTC)
        started = time.monotonic()
        await server.start()
        await server.wait_serving()
        restart_s = time.monotonic() - started
        await wait_for(lambda: indexed(2, killed), within_s=60, what="recording again")
    finally:
        await server.stop()
    report = []
    for camera_id in ids:
        found = await segments(camera_id)
        for a, b in itertools.pairwise(found):
            assert b.start_time >= a.end_time - dt.timedelta(milliseconds=5), "no overlap"
        recovered = next(s for s in found if epoch_ms(s.start_time) == in_progress[camera_id])
        lost_tail = (killed - recovered.end_time).total_seconds()
        after = next(s for s in found if s.start_time > recovered.start_time)
        gap = (after.start_time - recovered.end_time).total_seconds()
        report.append((camera_id, round(lost_tail, 2), round(gap, 2)))
        assert after.discontinuity, "the gap is recorded as a gap"
        assert lost_tail <= 1.0, "only the half-second fragment in progress is lost"
        # The restart, the wait for the camera's next keyframe, the RTSP connection,
        # and the part of the fragment in progress that died with the process.
        assert gap <= restart_s + KEYFRAME_S + CONNECT_S + lost_tail, (gap, restart_s)
    await db.close()
    print(f"\nrestart {restart_s:.2f} s; per camera (id, tail lost s, gap s): {report}")
