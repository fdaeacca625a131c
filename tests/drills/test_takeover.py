"""Drill: one of two ingest replicas is killed with SIGKILL. The survivor takes its
camera over within 15 s (lease 10 s + tick 3 s); the gap is bounded and reported; when
the dead replica comes back on its own data, what its spool held (including the
segment it was writing, up to its last whole fragment) is stored, so nothing is lost
beyond the takeover gap, and no two replicas ever recorded the same time."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

from rtcc.backends.database import open_database
from rtcc.backends.objectstore_file import FileObjectStore
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import INGEST_POOL
from rtcc.ingest.segment import BUCKET, MAIN
from rtcc.ingest.store import SegmentIndex

from .conftest import KEYFRAME_S

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
TAKEOVER_S = 15.0
CONNECT_S = 1.5


async def test_a_killed_replicas_camera_moves_within_15_s_and_its_spool_is_kept(
    deployment: Any, drill_cameras: Any, wait_for: Any
) -> None:
    shared = {
        "RTCC_DATABASE_URL": f"sqlite:///{deployment.root / 'shared.db'}",
        "RTCC_OBJECT_STORE_URL": f"file://{deployment.root / 'objects'}",
    }
    registry = deployment.server("registry", "registry", **shared)
    await registry.start()
    await registry.wait_serving()
    _, ids = await deployment.register(registry.address, drill_cameras)
    replicas = [
        deployment.server(name, "ingest", RTCC_PEERS__REGISTRY=registry.address, **shared)
        for name in ("ingest-a", "ingest-b")
    ]
    for replica in replicas:
        await replica.start()
    db = await open_database(shared["RTCC_DATABASE_URL"])
    leases, index = LeaseStore(db), SegmentIndex(db)

    async def holders() -> dict[str, str]:
        held = await leases.unexpired(INGEST_POOL)
        return {lease.camera_id: lease.address for lease in held if lease.camera_id in ids}

    async def segments(camera_id: str) -> list[Any]:
        found = await index.overlapping(camera_id, MAIN, EPOCH, FAR)
        return sorted(found, key=lambda s: s.start_time)

    async def spread() -> bool:
        return len(set((await holders()).values())) == 2

    async def recorded(after: dt.datetime = EPOCH) -> bool:
        for camera_id in ids:
            if sum(s.start_time > after for s in await segments(camera_id)) < 2:
                return False
        return True

    try:
        await wait_for(spread, within_s=60, what="one camera per replica")
        await wait_for(recorded, within_s=60, what="2 segments of each camera")
        victim = replicas[0]
        orphan = next(c for c, a in (await holders()).items() if a == victim.address)
        await victim.kill()
        killed, started = dt.datetime.now(dt.UTC), time.monotonic()

        async def taken_over() -> bool:
            return (await holders()).get(orphan) == replicas[1].address

        await wait_for(taken_over, within_s=TAKEOVER_S + 5, what="the orphan taken over")
        takeover_s = time.monotonic() - started
        await wait_for(lambda: recorded(killed), within_s=40, what="recording after takeover")
        before_restart = await segments(orphan)
        # The dead replica comes back on its own data: its spool is uploaded.
        await victim.start()
        spool = victim.data_dir / "ingest-spool"
        await wait_for(
            lambda: not list(spool.glob("*/*/*.json")) and not list(spool.glob("*/*/*.part")),
            within_s=40, what="the dead replica's spool drained",
        )  # fmt: skip
    finally:
        await deployment.stop()
    found = await segments(orphan)
    assert len(found) > len(before_restart), "the dead replica's spool held segments"
    for a, b in itertools.pairwise(found):
        assert b.start_time >= a.end_time - dt.timedelta(milliseconds=5), "never recorded twice"
    last_before = max((s for s in found if s.start_time < killed), key=lambda s: s.end_time)
    first_after = min((s for s in found if s.start_time >= killed), key=lambda s: s.start_time)
    gap = (first_after.start_time - last_before.end_time).total_seconds()
    lost_tail = (killed - last_before.end_time).total_seconds()
    objects = FileObjectStore(deployment.root / "objects")
    keys = {info.key async for info in objects.list(BUCKET, prefix=f"{orphan}/")}
    assert {s.object_key for s in found} <= keys, "every indexed segment is stored"
    await db.close()
    assert takeover_s <= TAKEOVER_S, takeover_s
    assert lost_tail <= 1.0, "the dead replica's last half second at most"
    assert gap <= takeover_s + KEYFRAME_S + CONNECT_S + lost_tail, (gap, takeover_s)
    print(
        f"\ntakeover {takeover_s:.1f} s; gap {gap:.1f} s (tail lost {lost_tail:.2f} s); "
        f"orphan segments indexed {len(found)}, stored {len(keys)}"
    )
