"""Drill: a camera's RTSP server is killed and started again. The recorder notices,
reports the camera unhealthy, reconnects with backoff, and resumes; the index shows
one hole (the outage plus the reconnect), and the segment after it is marked as
following a gap."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from typing import Any

from rtcc.backends.database import open_database
from rtcc.ingest.segment import MAIN, find_gaps
from rtcc.ingest.store import SegmentIndex
from rtcc.sim.simulator import Simulator

from .conftest import KEYFRAME_S, free_port

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
OUTAGE_S = 5.0
# After a 5 s outage the session's backoff (0.5 s doubling, half jittered) has its
# next attempt at most ~8 s after the camera left.
RECONNECT_S = 8.0


async def test_a_camera_that_goes_away_and_comes_back_is_recorded_again(
    deployment: Any, drill_cameras: Any, wait_for: Any
) -> None:
    camera = Simulator(1, drill_cameras.cache_dir, port=free_port(), scene_seconds=6.0)
    await camera.start()
    server = deployment.server("single-node", "registry,ingest")
    try:
        await server.start()
        await server.wait_serving()
        _, (camera_id,) = await deployment.register(server.address, camera)
        db = await open_database(f"sqlite:///{server.data_dir / 'rtcc.db'}")
        index = SegmentIndex(db)

        async def segments() -> list[Any]:
            found = await index.overlapping(camera_id, MAIN, EPOCH, FAR)
            return sorted(found, key=lambda s: s.start_time)

        async def count_after(when: dt.datetime, n: int) -> bool:
            return sum(s.start_time > when for s in await segments()) >= n

        await wait_for(lambda: count_after(EPOCH, 2), within_s=60, what="recording")
        assert camera._process is not None
        camera._process.send_signal(signal.SIGKILL)  # the camera dies, no goodbye
        await camera._process.wait()
        gone = dt.datetime.now(dt.UTC)
        await asyncio.sleep(OUTAGE_S)  # the outage itself, not a synchronisation
        await camera.start()  # same port, same stream
        back = dt.datetime.now(dt.UTC)
        await wait_for(lambda: count_after(back, 2), within_s=40, what="recording again")
        found = await segments()
        await db.close()
    finally:
        await server.stop()
        await camera.stop()
    holes = find_gaps(
        [(s.start_time, s.end_time) for s in found], found[0].start_time, found[-1].end_time,
        tolerance=dt.timedelta(milliseconds=300),
    )  # fmt: skip
    assert len(holes) == 1, holes
    (hole,) = holes
    length = (hole.end_time - hole.start_time).total_seconds()
    assert hole.start_time <= gone + dt.timedelta(seconds=1)
    assert hole.end_time >= back - dt.timedelta(seconds=1)
    after = next(s for s in found if s.start_time >= hole.end_time)
    assert after.discontinuity
    assert length <= (back - gone).total_seconds() + RECONNECT_S + KEYFRAME_S, length
    print(f"\ncamera away {(back - gone).total_seconds():.1f} s; hole {length:.1f} s")
