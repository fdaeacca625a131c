"""Drill: two analytics replicas analyse two cameras; the one holding the most camera
leases (pool ANALYTICS) is killed with SIGKILL. The survivor must take its cameras
over within the lease (10 s) plus its reconcile period (5 s) and a margin for a loaded
node, and analyse them again; every event published on the real bus (NATS) is stored
in the real database (PostgreSQL) and the other way round, each once (the event id is
the bus message id and the row's key); the analysis gap of each orphan camera (from the
kill to its first event from the survivor) is bounded and reported.

Real processes: `rtcc serve --target=registry,ingest` and two `--target=analytics`,
sharing PostgreSQL, MinIO and NATS as in the chart; the cameras show natural footage
(people walking) so that the real object detector makes events.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import socket
import time
from pathlib import Path

import pytest
from tests.waiting import wait_for

from rtcc.analytics.events import BUS_SUBJECT
from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.ingest.lease_store import LeaseStore
from rtcc.ingest.leases import ANALYTICS_POOL

from .conftest import Deployment
from .fleet import (
    FAR,
    Followers,
    enable_analytics,
    event_key,
    fresh_database,
    stored_events,
    street_simulator,
)

LEASE_S, POLL_S = 10.0, 5.0
# The lease running out, the survivor's next reconcile, and a margin for a loaded node.
TAKEOVER_S = LEASE_S + POLL_S + 5.0
# After taking over: detectors loaded, the frame stream open, a person tracked.
FIRST_EVENT_S = 20.0
pytestmark = [pytest.mark.postgres, pytest.mark.minio, pytest.mark.nats]


async def test_a_killed_analytics_replicas_cameras_move_to_the_survivor(
    deployment: Deployment, postgres_url: str, minio_url: str, nats_url: str, tmp_path: Path
) -> None:
    db_url = await fresh_database(postgres_url)
    deployment.env.update(
        RTCC_DATABASE_URL=db_url, RTCC_OBJECT_STORE_URL=minio_url, RTCC_BUS_URL=nats_url
    )
    db, bus = await open_database(db_url), await open_bus(nats_url)
    followers = Followers()
    published = followers.start(bus, BUS_SUBJECT, event_key)
    leases = LeaseStore(db)
    try:
        async with street_simulator(2) as sim:
            node = deployment.server("node", "registry,ingest")
            await node.start()
            await node.wait_serving(within_s=90)
            _, ids = await deployment.register(node.address, sim)
            peers = {"RTCC_PEERS__REGISTRY": node.address, "RTCC_PEERS__INGEST": node.address}
            replicas = [deployment.server(n, "analytics", **peers) for n in ("an-a", "an-b")]
            for replica in replicas:
                await replica.start()
            for replica in replicas:
                await replica.wait_serving(within_s=90)
            by_id = {f"{socket.gethostname()}:{r.process.pid}": r for r in replicas if r.process}
            await enable_analytics(replicas[0].address, deployment.admin_token(), ids)

            async def holders() -> dict[str, str]:
                held = await leases.unexpired(ANALYTICS_POOL)
                return {x.camera_id: x.replica_id for x in held if x.camera_id in ids}

            async def analysing() -> bool:
                events = await stored_events(db, ids)
                making = {e.camera_id for e in events} == set(ids)
                return making and len(await holders()) == len(ids)

            await wait_for(analysing, within_s=90, what="both cameras leased and making events")
            held = await holders()
            spread = collections.Counter(held.values())
            victim_id = spread.most_common(1)[0][0]
            victim = by_id[victim_id]
            survivor_id = next(i for i in by_id if i != victim_id)
            orphans = sorted(c for c, r in held.items() if r == victim_id)
            await victim.kill()
            killed, started = dt.datetime.now(dt.UTC), time.monotonic()

            async def taken_over() -> bool:
                now = await holders()
                return all(now.get(c) == survivor_id for c in orphans)

            await wait_for(taken_over, within_s=TAKEOVER_S + 10, what="the orphans taken over")
            takeover_s = time.monotonic() - started

            async def first_events() -> dict[str, dt.datetime]:
                after: dict[str, dt.datetime] = {}
                for e in await stored_events(db, orphans):
                    if e.event_time > killed:
                        after[e.camera_id] = min(e.event_time, after.get(e.camera_id, FAR))
                return after if set(after) == set(orphans) else {}

            first = await wait_for(
                first_events, within_s=FIRST_EVENT_S + 30, what="orphan events again"
            )
            end = dt.datetime.now(dt.UTC)

            async def settled() -> bool:
                stored = {e.id for e in await stored_events(db, ids) if e.event_time < end}
                return stored <= set(published)

            await wait_for(settled, within_s=30, what="every stored event published")
    finally:
        await deployment.stop()
        await followers.close()
        await bus.close()
    events = await stored_events(db, ids)
    await db.close()
    stored_ids = [e.id for e in events]
    before_end = {e.id for e in events if e.event_time < end}
    on_bus = collections.Counter(published)
    assert len(stored_ids) == len(set(stored_ids)), "no event stored twice"
    assert not [i for i, n in on_bus.items() if n > 1], "no event published twice"
    assert set(on_bus) <= set(stored_ids), "nothing announced that is not stored"
    assert before_end <= set(on_bus), "every stored event published"
    assert takeover_s <= TAKEOVER_S, takeover_s
    gaps = {c: round((first[c] - killed).total_seconds(), 1) for c in orphans}
    for camera_id, gap in gaps.items():
        assert gap <= takeover_s + FIRST_EVENT_S, (camera_id, gap, takeover_s)
    per_camera = collections.Counter(e.camera_id for e in events)
    print(
        f"\nleases before the kill {dict(spread)}; killed the holder of {len(orphans)}; "
        f"takeover {takeover_s:.1f} s; first orphan event after the kill {gaps} s; "
        f"events published {len(on_bus)}, stored {len(stored_ids)} "
        f"(per camera {dict(per_camera)}); load {os.getloadavg()[0]:.1f}"
    )
